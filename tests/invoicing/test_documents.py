"""Invoice PDFs in the customer's language, and the PDF, the UBL file and the books agreeing."""

from __future__ import annotations

import locale
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from backend.core.db import session_scope
from backend.invoicing import books, documents, service
from tests.conftest import which_or_skip
from tests.invoicing import factories
from tests.invoicing.factories import SAMPLE_LINES, lines
from tests.invoicing.test_peppol_export import DOCUMENTS, NS, issue_case


def pdf_text(pdf: bytes, layout: bool = True) -> str:
    which_or_skip("pdftotext", "apt-get install poppler-utils")
    command = ["pdftotext", "-layout", "-", "-"] if layout else ["pdftotext", "-", "-"]
    result = subprocess.run(command, input=pdf, capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def render(engine, owner_id: int, invoice_id: int, language: str | None = None) -> bytes:
    with session_scope(engine) as session:
        return documents.render_invoice_pdf(service.get_invoice_detail(session, owner_id, invoice_id), language)


@pytest.mark.parametrize(("customer", "expected"), [
    ("brasserie", ["FACTURE", "N° 2026-0001", "Échéance", "Total à payer", "3 910,41 €", "Communication structurée",
                   "+++000/0000/00101+++", "BE56 3631 2345 6788", "Votre numéro de TVA", "BE0123456749",
                   "Retard de paiement"]),
    ("bouw", ["FACTUUR", "Nr. 2026-0001", "Vervaldag", "Totaal te betalen", "€ 3.910,41",
              "Gestructureerde mededeling", "+++000/0000/00101+++", "Uw btw-nummer", "Laattijdige betaling"]),
    ("english", ["INVOICE", "No. 2026-0001", "Due date", "Total to pay", "3.910,41 €", "Structured communication",
                 "Your VAT number", "Late payment"]),
])
def test_pdf_in_customer_language(engine, customer, expected):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, customer)
    invoice = factories.issued(engine, owner_id, customer_id, SAMPLE_LINES, today=date(2026, 11, 3))

    text = pdf_text(render(engine, owner_id, invoice.id))

    for fragment in expected:
        assert fragment in text
    assert "0478.123.490" in text
    assert "BE0478123490" in text


@pytest.mark.parametrize(("case", "fragments"), [
    (2, ["Régime particulier de la franchise de taxe"]),
    (3, ["Verlegging van heffing: de btw is verschuldigd door de afnemer", "NL004495445B01"]),
    (4, ["Verlegging van heffing. Bij gebrek aan schriftelijke betwisting", "BE0876543270"]),
    (5, ["Livraison intracommunautaire exemptée", "Date de livraison", "28 octobre 2026"]),
    (6, ["NOTE DE CRÉDIT", "Corrige la facture", "Cette note de crédit réduit la facture"]),
])
def test_pdf_carries_legal_mentions(engine, case, fragments):
    owner_id, document, _xml = issue_case(engine, "lien@example.be", *DOCUMENTS[case][1:])

    text = " ".join(pdf_text(render(engine, owner_id, document.id)).split())

    for fragment in fragments:
        assert fragment in text


def test_draft_pdf_is_marked_and_has_no_number(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    draft_id = factories.draft(engine, owner_id, customer_id, SAMPLE_LINES)

    text = pdf_text(render(engine, owner_id, draft_id))

    assert "BROUILLON – NE VAUT PAS FACTURE" in text
    assert "N° " not in text


FRENCH_AMOUNT = r"(-?\d{1,3}(?:[\u202f\u00a0 ]\d{3})*,\d{2}) €"
# The lines of the totals block of a French PDF, in the layout pdftotext keeps: each label is
# followed by its amount at the end of the line.
PDF_TOTALS = (rf"Total HTVA\s+{FRENCH_AMOUNT}\s*$", rf"\sTVA\s+{FRENCH_AMOUNT}\s*$",
              rf"Total (?:à payer|crédité)\s+{FRENCH_AMOUNT}\s*$")


def _pdf_totals(text: str) -> list[Decimal]:
    """Return the three totals a French PDF prints (3 910,41 €) as decimals."""
    totals = []
    for pattern in PDF_TOTALS:
        match = re.search(pattern, text, re.MULTILINE)
        assert match is not None, f"the PDF has no line matching {pattern}"
        totals.append(Decimal(re.sub(r"[\u202f\u00a0 ]", "", match.group(1)).replace(",", ".")))
    return totals


@pytest.mark.parametrize(("customer", "profile", "scheme", "invoice_lines", "credit_lines"),
                         [pytest.param(*case[1:], id=case[0]) for case in DOCUMENTS])
def test_pdf_ubl_and_books_agree(engine, customer, profile, scheme, invoice_lines, credit_lines):
    owner_id, document, xml = issue_case(engine, "lien@example.be", customer, profile, scheme, invoice_lines,
                                         credit_lines)
    root = etree.fromstring(xml)
    ubl_totals = {name: Decimal(root.findtext(f"cac:LegalMonetaryTotal/cbc:{name}", namespaces=NS))
                  for name in ("TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount")}
    ubl_tax = Decimal(root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS))
    with session_scope(engine) as session:
        journal = books.sales_journal(session, owner_id, date(2000, 1, 1), date(2100, 1, 1))
    taxable, tax = books.document_totals(journal, document.id)
    sign = -1 if document.is_credit_note else 1

    pdf_totals = _pdf_totals(pdf_text(render(engine, owner_id, document.id, "fr")))

    assert ubl_totals["TaxExclusiveAmount"] == sign * taxable == document.tax_exclusive_amount == pdf_totals[0]
    assert ubl_tax == sign * tax == document.tax_amount == pdf_totals[1]
    assert ubl_totals["TaxInclusiveAmount"] == ubl_totals["PayableAmount"] == document.payable_amount == pdf_totals[2]


def test_books_sign_credit_notes(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, lines(("Frais", "1", "C62", "12.50", "21")))
    credit_note = factories.credit(engine, owner_id, invoice.id)

    with session_scope(engine) as session:
        journal = books.sales_journal(session, owner_id, date(2000, 1, 1), date(2100, 1, 1))

    assert books.document_totals(journal, invoice.id) == (Decimal("12.50"), Decimal("2.63"))
    assert books.document_totals(journal, credit_note.id) == (Decimal("-12.50"), Decimal("-2.63"))


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_epc_payload_under_local_formatting(engine, language):
    """The amount is EUR1234.50 whatever the locale, and the 12 digits fill the structured reference."""
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie" if language == "fr" else "bouw")
    # 1020.25 excluding VAT at 21 % = 214.2525 -> 214.25 of VAT: 1234.50 in all.
    invoice = factories.issued(engine, owner_id, customer_id, lines(("Travail", "1", "C62", "1020.25", "21")))
    previous = locale.setlocale(locale.LC_ALL)
    for name in (f"{language}_BE.UTF-8", "C.UTF-8"):
        try:
            locale.setlocale(locale.LC_ALL, name)
            break
        except locale.Error:
            continue
    try:
        payload = documents.payment_qr_payload(invoice, "Lien Verbeke")
    finally:
        locale.setlocale(locale.LC_ALL, previous)

    elements = payload.split("\n")
    assert invoice.payable_amount == Decimal("1234.50")
    assert elements[7] == "EUR1234.50"
    assert elements[9] == invoice.structured_communication
    assert len(elements[9]) == 12
    assert elements[9].isdigit()
    assert len(elements) == 10
    assert elements[:7] == ["BCD", "002", "1", "SCT", "BBRUBEBB", "Lien Verbeke", "BE56363123456788"]


def test_no_payment_qr_for_credit_note_or_draft(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    draft_id = factories.draft(engine, owner_id, customer_id, SAMPLE_LINES)
    invoice = factories.issued(engine, owner_id, customer_id, SAMPLE_LINES)
    credit_note = factories.credit(engine, owner_id, invoice.id)

    with session_scope(engine) as session:
        assert documents.payment_qr_payload(service.get_invoice(session, draft_id), "x") is None
    assert documents.payment_qr_payload(credit_note, "x") is None

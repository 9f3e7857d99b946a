"""The reminder letter PDF, read back with pdftotext (poppler-utils)."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest

from backend.collection import letters, service
from backend.core.db import session_scope
from backend.invoicing import service as invoicing
from tests.conftest import which_or_skip
from tests.invoicing.helpers import remove, sample_bytes, sample_tree, set_text, to_bytes


def pdf_text(pdf: bytes) -> str:
    pdftotext = which_or_skip("pdftotext", "apt-get install poppler-utils")
    result = subprocess.run([pdftotext, "-layout", "-", "-"], input=pdf, capture_output=True, check=True,
                            timeout=60)
    return result.stdout.decode("utf-8")


def render(engine, owner_id: int, data: bytes, language: str) -> bytes:
    with session_scope(engine) as session:
        invoice = invoicing.import_invoice(session, owner_id, data, "invoice.xml")
        invoicing.set_debtor_language(session, owner_id, invoice.id, language)
        letter = service.issue_letter(session, owner_id, invoice.id)
        return letters.render_letter_pdf(session, letter)


@pytest.mark.parametrize(("language", "amount", "phrases"), [
    ("fr", "3 921,61 €", ["Rappel de paiement", "Madame, Monsieur,", "échue le 4 novembre 2026",
                           "Communication structurée", "Collez l’autocollant Ikki ici", "Gent, le "]),
    ("nl", "€ 3.921,61", ["Betalingsherinnering", "Geachte mevrouw, geachte heer,",
                           "vervallen op 4 november 2026", "Gestructureerde mededeling", "Kleef de Ikki-sticker hier"]),
    ("en", "3.921,61 €", ["Payment reminder", "Dear Sir or Madam,", "due on 4 November 2026",
                           "Structured communication", "Stick the Ikki sticker here"]),
])
def test_letter_pdf_in_each_language(db_engine, owner_id, language, amount, phrases):
    pdf = render(db_engine, owner_id, sample_bytes(), language)

    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    # pdftotext writes the no-break spaces babel puts in amounts as plain spaces.
    flat = text.replace("\u202f", " ").replace("\xa0", " ")
    assert "2026-0117" in flat
    assert amount in flat
    assert "+++010/0002/60466+++" in flat
    assert "BE56 3631 2345 6788" in flat
    assert "BBRUBEBB" in flat
    assert "Brasserie du Quai SA" in flat
    assert "Quai des Exemples 7" in flat
    assert "5000 Namur" in flat
    assert "Lien Verbeke Webontwikkeling" in flat
    for phrase in phrases:
        assert phrase in flat


def test_letter_pdf_is_one_page(db_engine, owner_id):
    pdf = render(db_engine, owner_id, sample_bytes(), "fr")

    assert pdf_text(pdf).count("\f") == 1


def test_letter_without_structured_communication_quotes_number(db_engine, owner_id):
    data = to_bytes(set_text(sample_tree(), "cac:PaymentMeans/cbc:PaymentID", "Facture 2026-0117"))

    text = pdf_text(render(db_engine, owner_id, data, "nl"))

    assert "+++" not in text
    assert "Mededeling" in text
    assert "Factuur 2026-0117" in text
    assert "met vermelding van het factuurnummer" in text


def test_letter_abroad_names_country(db_engine, owner_id):
    root = sample_tree()
    customer = "cac:AccountingCustomerParty/cac:Party"
    set_text(root, f"{customer}/cac:PostalAddress/cbc:PostalZone", "75001")
    set_text(root, f"{customer}/cac:PostalAddress/cbc:CityName", "Paris")
    set_text(root, f"{customer}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "FR")
    remove(root, f"{customer}/cac:PartyTaxScheme")
    remove(root, f"{customer}/cac:PartyLegalEntity/cbc:CompanyID")
    remove(root, f"{customer}/cbc:EndpointID")

    text = pdf_text(render(db_engine, owner_id, to_bytes(root), "fr"))

    assert "75001 Paris" in text
    assert "FRANCE" in text


def test_payment_qr_only_for_euro_amounts(db_engine, owner_id):
    with session_scope(db_engine) as session:
        invoice = invoicing.import_invoice(session, owner_id, sample_bytes(), "invoice.xml")
        contact = invoicing.debtor_contact(session, invoice.id)

    assert letters.payment_qr_data_uri(contact, "fr").startswith("data:image/svg+xml")
    paid = type(contact)(**{**contact.__dict__, "amount_due": Decimal("0.00")})
    assert letters.payment_qr_data_uri(paid, "fr") is None
    dollars = type(contact)(**{**contact.__dict__, "currency": "USD"})
    assert letters.payment_qr_data_uri(dollars, "fr") is None


@pytest.mark.parametrize(("number", "filename"), [
    ("2026-0117", "reminder-2026-0117-3.pdf"),
    ('F/2026 "7"', "reminder-F-2026-7-3.pdf"),
    ("///", "reminder-invoice-3.pdf"),
])
def test_letter_filename_safe(number, filename):
    assert letters.letter_filename(number, 3) == filename

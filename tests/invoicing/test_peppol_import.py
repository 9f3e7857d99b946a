"""Importing Peppol BIS Billing 3.0 invoices: the sample, every rejection, duplicates."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from backend.core.db import session_scope
from backend.core.settings import get_settings
from backend.invoicing import errors, service
from backend.invoicing.models import (
    Invoice,
    InvoiceLine,
    InvoiceParty,
    InvoiceTaxSubtotal,
)
from tests.invoicing.helpers import (
    NS,
    count_rows,
    find,
    remove,
    sample_bytes,
    sample_tree,
    set_text,
    to_bytes,
)

CUSTOMER = "cac:AccountingCustomerParty/cac:Party"
SUPPLIER = "cac:AccountingSupplierParty/cac:Party"
TOTALS = "cac:LegalMonetaryTotal"


def import_data(engine, owner_id: int, data: bytes, filename: str = "invoice.xml") -> Invoice:
    with session_scope(engine) as session:
        return service.import_invoice(session, owner_id, data, filename)


def test_sample_imports_every_field(db_engine, owner_id):
    invoice = import_data(db_engine, owner_id, sample_bytes(), "exports/invoice-b2b-overdue.xml")

    with session_scope(db_engine) as session:
        stored = session.get(Invoice, invoice.id)
        assert stored.owner_id == owner_id
        assert stored.source == "imported"
        assert stored.number == "2026-0117"
        assert stored.supplier_key == "0478123490"
        assert stored.issue_date == date(2026, 10, 5)
        assert stored.due_date == date(2026, 11, 4)
        assert stored.currency == "EUR"
        assert stored.note == "Prestations de développement web, octobre 2026."
        assert stored.buyer_reference == "PO-88412"
        assert stored.structured_communication == "010000260466"
        assert stored.iban == "BE56363123456788"
        assert stored.bic == "BBRUBEBB"
        assert stored.payment_terms.startswith("Payable dans les 30 jours.")
        assert stored.line_extension_amount == Decimal("3241.00")
        assert stored.tax_exclusive_amount == Decimal("3241.00")
        assert stored.tax_amount == Decimal("680.61")
        assert stored.tax_inclusive_amount == Decimal("3921.61")
        assert stored.payable_amount == Decimal("3921.61")
        assert stored.paid_amount == Decimal("0.00")
        assert stored.status == "open"
        assert stored.debtor_language == "fr"
        assert stored.debtor_language_source == "postal_code"

        parties = {
            party.role: party
            for party in session.exec(select(InvoiceParty).where(InvoiceParty.invoice_id == invoice.id))
        }
        supplier, customer = parties["supplier"], parties["customer"]
        assert supplier.name == "Lien Verbeke Webontwikkeling"
        assert supplier.registration_name == "Lien Verbeke"
        assert supplier.vat_number == "BE0478123490"
        assert supplier.enterprise_number == "0478123490"
        assert (supplier.street, supplier.city, supplier.postal_code, supplier.country) == (
            "Voorbeeldstraat 12", "Gent", "9000", "BE")
        assert supplier.email == "lien@example.be"
        assert supplier.phone is None
        assert customer.name == "Brasserie du Quai"
        assert customer.registration_name == "Brasserie du Quai SA"
        assert customer.vat_number == "BE0799100252"
        assert customer.enterprise_number == "0799100252"
        assert (customer.street, customer.city, customer.postal_code, customer.country) == (
            "Quai des Exemples 7", "Namur", "5000", "BE")
        assert customer.additional_street is None
        assert customer.email == "compta@example.com"
        assert customer.phone == "+32 81 00 00 00"
        assert customer.contact_name == "Service comptabilité"

        lines = session.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
        ).all()
        assert [(line.position, line.description) for line in lines] == [
            (1, "Développement web, octobre 2026"), (2, "Déplacements chez le client")]
        assert [(line.quantity, line.unit_code, line.unit_price, line.line_amount) for line in lines] == [
            (Decimal("42.0000"), "HUR", Decimal("75.0000"), Decimal("3150.00")),
            (Decimal("2.0000"), "C62", Decimal("45.5000"), Decimal("91.00")),
        ]
        assert {(line.vat_category, line.vat_rate) for line in lines} == {("S", Decimal("21.00"))}

        subtotals = session.exec(
            select(InvoiceTaxSubtotal).where(InvoiceTaxSubtotal.invoice_id == invoice.id)
        ).all()
        assert [(item.category, item.rate, item.taxable_amount, item.tax_amount, item.exemption_reason)
                for item in subtotals] == [("S", Decimal("21.00"), Decimal("3241.00"), Decimal("680.61"), None)]

        entries = service.timeline(session, invoice.id)
        assert [entry.kind for entry in entries] == ["imported"]
        assert entries[0].data == {"filename": "invoice-b2b-overdue.xml", "language": "fr",
                                   "language_source": "postal_code"}


def _missing(path: str):
    return lambda root: remove(root, path)


def _text(path: str, value: str):
    return lambda root: set_text(root, path, value)


def _rename_root(namespace: str, name: str):
    def rename(root):
        root.tag = f"{{{namespace}}}{name}"
        return root
    return rename


def _both(*edits):
    def apply(root):
        for edit in edits:
            root = edit(root)
        return root
    return apply


def _no_customer_name(root):
    remove(root, f"{CUSTOMER}/cac:PartyName")
    return remove(root, f"{CUSTOMER}/cac:PartyLegalEntity/cbc:RegistrationName")


def _currency(path: str, currency: str):
    def apply(root):
        find(root, path).set("currencyID", currency)
        return root
    return apply


# (case, edit of the sample tree, expected error, texts the message must contain)
REJECTIONS = [
    ("not an invoice", _rename_root("urn:example:order", "Order"), errors.NotAnInvoice,
     ["{urn:example:order}Order", "invoice.xml"]),
    ("credit note root over invoice lines",
     _rename_root("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2", "CreditNote"),
     errors.NoCreditNoteLines, ["cac:CreditNoteLine"]),
    ("lines do not add up",
     _both(_text("cac:InvoiceLine[2]/cbc:LineExtensionAmount", "95.00"),
           _text("cac:InvoiceLine[2]/cac:Price/cbc:PriceAmount", "47.50")),
     errors.LineTotalMismatch, ["cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "3241.00", "3245.00"]),
    ("line amount not quantity times price", _text("cac:InvoiceLine[1]/cbc:LineExtensionAmount", "3160.00"),
     errors.LineAmountMismatch, ["cac:InvoiceLine[1]/cbc:LineExtensionAmount", "3160.00", "3150.00"]),
    ("tax inclusive total wrong", _text(f"{TOTALS}/cbc:TaxInclusiveAmount", "3921.00"),
     errors.TaxInclusiveMismatch, ["cbc:TaxInclusiveAmount", "3921.00", "3241.00", "680.61", "3921.61"]),
    ("tax exclusive total wrong", _text(f"{TOTALS}/cbc:TaxExclusiveAmount", "3200.00"),
     errors.TaxExclusiveMismatch, ["cbc:TaxExclusiveAmount", "3200.00", "3241.00"]),
    ("payable amount wrong", _text(f"{TOTALS}/cbc:PayableAmount", "3900.00"),
     errors.PayableMismatch, ["cbc:PayableAmount", "3900.00", "3921.61"]),
    ("VAT breakdown does not add up", _text("cac:TaxTotal/cbc:TaxAmount", "680.00"),
     errors.TaxSubtotalMismatch, ["cac:TaxTotal/cbc:TaxAmount", "680.00", "680.61"]),
    ("VAT not rate times taxable amount",
     _both(_text("cac:TaxTotal/cbc:TaxAmount", "690.61"),
           _text("cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "690.61")),
     errors.TaxRateMismatch, ["cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "690.61", "680.61"]),
    ("structured communication check digits", _text("cac:PaymentMeans/cbc:PaymentID", "+++010/0002/60467+++"),
     errors.InvalidStructuredCommunication, ["cac:PaymentMeans/cbc:PaymentID", "+++010/0002/60467+++", "66"]),
    ("structured communication bare digits wrong", _text("cac:PaymentMeans/cbc:PaymentID", "010000260400"),
     errors.InvalidStructuredCommunication, ["cbc:PaymentID", "010000260400", "66"]),
    ("structured communication misshapen", _text("cac:PaymentMeans/cbc:PaymentID", "+++010/0002/6046+++"),
     errors.MalformedStructuredCommunication, ["cbc:PaymentID", "+++010/0002/6046+++"]),
    ("customer enterprise number", _text(f"{CUSTOMER}/cac:PartyLegalEntity/cbc:CompanyID", "0799100253"),
     errors.InvalidEnterpriseNumber, [f"{CUSTOMER}/cac:PartyLegalEntity/cbc:CompanyID", "0799100253"]),
    ("supplier endpoint enterprise number", _text(f"{SUPPLIER}/cbc:EndpointID", "0478123491"),
     errors.InvalidEnterpriseNumber, [f"{SUPPLIER}/cbc:EndpointID", "0478123491"]),
    ("customer VAT number", _text(f"{CUSTOMER}/cac:PartyTaxScheme/cbc:CompanyID", "BE0799100253"),
     errors.InvalidVatNumber, [f"{CUSTOMER}/cac:PartyTaxScheme/cbc:CompanyID", "BE0799100253"]),
    ("IBAN", _text("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", "BE56363123456789"),
     errors.InvalidIban, ["cac:PayeeFinancialAccount/cbc:ID", "BE56363123456789"]),
    ("BIC", _text("cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID", "BB!"),
     errors.InvalidBic, ["cac:FinancialInstitutionBranch/cbc:ID", "BB!"]),
    ("missing ID", _missing("cbc:ID"), errors.MissingElement, ["cbc:ID"]),
    ("missing issue date", _missing("cbc:IssueDate"), errors.MissingElement, ["cbc:IssueDate"]),
    ("missing due date", _missing("cbc:DueDate"), errors.MissingElement, ["cbc:DueDate"]),
    ("missing customer name", _no_customer_name, errors.MissingElement,
     [f"{CUSTOMER}/cac:PartyLegalEntity/cbc:RegistrationName"]),
    ("missing customer", _missing("cac:AccountingCustomerParty"), errors.MissingElement,
     ["cac:AccountingCustomerParty/cac:Party"]),
    ("missing payable amount", _missing(f"{TOTALS}/cbc:PayableAmount"), errors.MissingElement,
     ["cac:LegalMonetaryTotal/cbc:PayableAmount"]),
    ("missing IBAN", _missing("cac:PaymentMeans/cac:PayeeFinancialAccount"), errors.MissingElement,
     ["cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"]),
    ("missing currency", _missing("cbc:DocumentCurrencyCode"), errors.MissingElement, ["cbc:DocumentCurrencyCode"]),
    ("missing customization", _missing("cbc:CustomizationID"), errors.MissingElement, ["cbc:CustomizationID"]),
    ("not EN 16931", _text("cbc:CustomizationID", "urn:example:custom"), errors.UnsupportedCustomization,
     ["urn:example:custom"]),
    ("no lines", _both(_missing("cac:InvoiceLine"), _missing("cac:InvoiceLine")), errors.NoInvoiceLines,
     ["cac:InvoiceLine"]),
    ("invalid issue date", _text("cbc:IssueDate", "2026-13-05"), errors.InvalidDate, ["cbc:IssueDate", "2026-13-05"]),
    ("date in another format", _text("cbc:DueDate", "04/11/2026"), errors.InvalidDate, ["cbc:DueDate", "04/11/2026"]),
    ("invalid amount", _text(f"{TOTALS}/cbc:PayableAmount", "3.921,61"), errors.InvalidNumber,
     ["cbc:PayableAmount", "3.921,61"]),
    ("amount with three decimals", _text(f"{TOTALS}/cbc:PayableAmount", "3921.615"), errors.TooManyDecimals,
     ["cbc:PayableAmount", "3921.615"]),
    ("amount too large", _text(f"{TOTALS}/cbc:PayableAmount", "1000000000000.00"), errors.AmountOutOfRange,
     ["cbc:PayableAmount", "1000000000000.00"]),
    ("amount in another currency", _currency(f"{TOTALS}/cbc:PayableAmount", "USD"), errors.CurrencyMismatch,
     ["cbc:PayableAmount", "USD", "EUR"]),
    ("invalid currency", _text("cbc:DocumentCurrencyCode", "euro"), errors.InvalidCurrency,
     ["cbc:DocumentCurrencyCode", "euro"]),
    ("invalid country", _text(f"{CUSTOMER}/cac:PostalAddress/cac:Country/cbc:IdentificationCode", "Belgium"),
     errors.InvalidCountry, ["cbc:IdentificationCode", "Belgium"]),
    ("unknown VAT category", _text("cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "X"),
     errors.InvalidVatCategory, ["cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "X"]),
    ("number too long", _text("cbc:ID", "9" * 201), errors.ValueTooLong, ["cbc:ID", "201"]),
]


@pytest.mark.parametrize(("edit", "expected", "fragments"),
                         [pytest.param(edit, expected, fragments, id=case) for case, edit, expected, fragments in REJECTIONS])
def test_rejected_file_names_element_and_stores_nothing(db_engine, owner_id, edit, expected, fragments):
    data = to_bytes(edit(sample_tree()))
    before = count_rows(db_engine)

    with pytest.raises(expected) as caught:
        import_data(db_engine, owner_id, data)

    assert caught.value.status_code == 422
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert count_rows(db_engine) == before
    assert before["invoices"] == 0


def _raw_rejections():
    sample = sample_bytes()
    limit = get_settings().max_upload_bytes
    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE Invoice [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
           + sample.split(b"?>", 1)[1].replace(b"<cbc:Note>", b"<cbc:Note>&secret;", 1))
    laughs = (b'<?xml version="1.0"?>\n<!DOCTYPE Invoice [<!ENTITY a "aaaaaaaaaa">'
              + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10)
                         for i in range(8))
              + b"]>\n" + sample.split(b"?>", 1)[1].replace(b"<cbc:Note>", b"<cbc:Note>&i;", 1))
    return [
        ("half a file", sample[: len(sample) // 2], errors.MalformedXml, ["invoice.xml", "line"]),
        ("not XML", b"ID;IssueDate\n2026-0117;2026-10-05\n", errors.MalformedXml, ["invoice.xml"]),
        ("empty", b"  \n", errors.EmptyFile, ["invoice.xml"]),
        ("over the size limit", sample + b"<!--" + b"x" * limit + b"-->", errors.FileTooLarge,
         [str(limit), str(len(sample) + limit + 7)]),
        ("external entity", xxe, errors.DoctypeNotAllowed, ["DOCTYPE"]),
        ("entity expansion", laughs, errors.DoctypeNotAllowed, ["DOCTYPE"]),
    ]


@pytest.mark.parametrize(("data", "expected", "fragments"),
                         [pytest.param(data, expected, fragments, id=case)
                          for case, data, expected, fragments in _raw_rejections()])
def test_rejected_bytes_store_nothing(db_engine, owner_id, data, expected, fragments):
    before = count_rows(db_engine)
    started = time.monotonic()

    with pytest.raises(expected) as caught:
        import_data(db_engine, owner_id, data)

    assert time.monotonic() - started < 5
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "root:" not in message
    assert count_rows(db_engine) == before


def test_duplicate_import_rejected_and_stores_nothing(db_engine, owner_id):
    import_data(db_engine, owner_id, sample_bytes())
    before = count_rows(db_engine)

    with pytest.raises(errors.InvoiceAlreadyImported) as caught:
        import_data(db_engine, owner_id, sample_bytes())

    assert caught.value.status_code == 409
    assert "2026-0117" in str(caught.value)
    assert "already imported" in str(caught.value)
    assert count_rows(db_engine) == before
    assert before["invoices"] == 1


def test_concurrent_imports_store_one(db_engine, owner_id):
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def import_once() -> None:
        barrier.wait(timeout=10)
        try:
            import_data(db_engine, owner_id, sample_bytes())
            outcomes.append("imported")
        except errors.InvoiceAlreadyImported:
            outcomes.append("duplicate")
        except Exception as error:  # noqa: BLE001 (any other outcome fails the test below)
            outcomes.append(repr(error))

    threads = [threading.Thread(target=import_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "imported"]
    counts = count_rows(db_engine)
    assert counts["invoices"] == 1
    assert counts["invoice_parties"] == 2
    assert counts["invoice_lines"] == 2
    assert counts["invoice_timeline"] == 1


def test_unique_constraint_rejects_duplicate_row(db_engine, owner_id):
    invoice = import_data(db_engine, owner_id, sample_bytes())
    copy = Invoice(**invoice.model_dump(exclude={"id"}))

    with pytest.raises(IntegrityError), session_scope(db_engine) as session:
        session.add(copy)
        session.flush()


def test_same_number_from_other_supplier_imports(db_engine, owner_id):
    import_data(db_engine, owner_id, sample_bytes())
    root = sample_tree()
    supplier = f"{SUPPLIER}"
    set_text(root, f"{supplier}/cbc:EndpointID", "0799100252")
    set_text(root, f"{supplier}/cac:PartyLegalEntity/cbc:CompanyID", "0799100252")
    set_text(root, f"{supplier}/cac:PartyTaxScheme/cbc:CompanyID", "BE0799100252")

    other = import_data(db_engine, owner_id, to_bytes(root))

    assert other.number == "2026-0117"
    assert other.supplier_key == "0799100252"


def test_same_invoice_for_other_owner_imports(db_engine, owner_id, other_owner_id):
    first = import_data(db_engine, owner_id, sample_bytes())
    second = import_data(db_engine, other_owner_id, sample_bytes())

    assert first.id != second.id
    assert second.owner_id == other_owner_id


@pytest.mark.parametrize("written", ["***010/0002/60466***", "010000260466", "+++010 / 0002 / 60466+++"])
def test_structured_communication_forms_accepted(db_engine, owner_id, written):
    data = to_bytes(set_text(sample_tree(), "cac:PaymentMeans/cbc:PaymentID", written))

    invoice = import_data(db_engine, owner_id, data)

    assert invoice.structured_communication == "010000260466"


def test_free_text_payment_id_leaves_no_structured_communication(db_engine, owner_id):
    data = to_bytes(set_text(sample_tree(), "cac:PaymentMeans/cbc:PaymentID", "Invoice 2026-0117"))

    invoice = import_data(db_engine, owner_id, data)

    assert invoice.structured_communication is None


def test_missing_bic_taken_from_iban(db_engine, owner_id):
    root = remove(sample_tree(), "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch")

    invoice = import_data(db_engine, owner_id, to_bytes(root))

    assert invoice.bic == "BBRUBEBB"


def test_supplier_without_ids_keyed_by_name(db_engine, owner_id):
    root = sample_tree()
    remove(root, f"{SUPPLIER}/cbc:EndpointID")
    remove(root, f"{SUPPLIER}/cac:PartyTaxScheme")
    remove(root, f"{SUPPLIER}/cac:PartyLegalEntity/cbc:CompanyID")

    invoice = import_data(db_engine, owner_id, to_bytes(root))

    assert invoice.supplier_key == "name:lien verbeke webontwikkeling"


def test_enterprise_number_taken_from_vat_number(db_engine, owner_id):
    root = sample_tree()
    remove(root, f"{CUSTOMER}/cbc:EndpointID")
    remove(root, f"{CUSTOMER}/cac:PartyLegalEntity/cbc:CompanyID")
    invoice = import_data(db_engine, owner_id, to_bytes(root))

    with session_scope(db_engine) as session:
        detail = service.get_invoice_detail(session, owner_id, invoice.id)

    assert detail.customer.enterprise_number == "0799100252"


def test_invoice_type_code_381_imports_as_credit_note(db_engine, owner_id):
    data = to_bytes(set_text(sample_tree(), "cbc:InvoiceTypeCode", "381"))

    credit_note = import_data(db_engine, owner_id, data)

    assert credit_note.document_type == "credit_note"
    assert credit_note.status == "issued"
    assert credit_note.payable_amount == Decimal("3921.61")
    assert credit_note.amount_due == Decimal("0.00")


def test_line_allowance_and_document_charge_checked(db_engine, owner_id):
    """A line allowance and a document charge that add up are accepted."""
    root = sample_tree()
    allowance = etree.Element(f"{{{NS['cac']}}}AllowanceCharge")
    etree.SubElement(allowance, f"{{{NS['cbc']}}}ChargeIndicator").text = "false"
    etree.SubElement(allowance, f"{{{NS['cbc']}}}Amount", currencyID="EUR").text = "150.00"
    # UBL order: a line's allowances come before its cac:Item.
    find(root, "cac:InvoiceLine[1]/cac:Item").addprevious(allowance)
    set_text(root, "cac:InvoiceLine[1]/cbc:LineExtensionAmount", "3000.00")
    set_text(root, f"{TOTALS}/cbc:LineExtensionAmount", "3091.00")
    charge = etree.Element(f"{{{NS['cbc']}}}ChargeTotalAmount", currencyID="EUR")
    charge.text = "9.00"
    find(root, f"{TOTALS}/cbc:TaxInclusiveAmount").addnext(charge)
    set_text(root, f"{TOTALS}/cbc:TaxExclusiveAmount", "3100.00")
    set_text(root, "cac:TaxTotal/cbc:TaxAmount", "651.00")
    set_text(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount", "3100.00")
    set_text(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "651.00")
    set_text(root, f"{TOTALS}/cbc:TaxInclusiveAmount", "3751.00")
    set_text(root, f"{TOTALS}/cbc:PayableAmount", "3751.00")

    invoice = import_data(db_engine, owner_id, to_bytes(root))

    assert invoice.tax_exclusive_amount == Decimal("3100.00")
    assert invoice.payable_amount == Decimal("3751.00")

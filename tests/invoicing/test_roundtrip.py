"""Importing an exported document gives the same document, field by field, and imported
credit notes lower the invoice they correct."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.accounts.service import sign_up
from backend.core.db import session_scope
from backend.invoicing import errors, service
from backend.invoicing.models import Invoice
from backend.invoicing.peppol_export import export_ubl
from tests.invoicing import factories
from tests.invoicing.factories import lines
from tests.invoicing.test_peppol_export import DOCUMENTS, issue_case

# Fields that differ by design: who stored the document and when, how it came in, the
# issuer's own bookkeeping (customer record, scheme, terms, contract) and the status,
# which each owner tracks on their own side. The debtor language is guessed on import.
INVOICE_FIELDS_NOT_COMPARED = {
    "id", "owner_id", "source", "status", "created_at", "issued_at", "customer_id", "credited_invoice_id",
    "vat_scheme", "payment_terms_days", "contract_id", "timesheet_draft_id", "debtor_management",
    "debtor_language", "debtor_language_source", "credited_amount", "paid_amount",
}
CHILD_FIELDS_NOT_COMPARED = {"id", "invoice_id"}


def import_as_customer(engine, xml: bytes) -> Invoice:
    with session_scope(engine) as session:
        customer_owner = sign_up(session, email=f"customer{len(xml)}@example.be", name="Customer",
                                 password="x" * 12).id
        return service.import_invoice(session, customer_owner, xml, "received.xml")


def assert_same_document(engine, issued_owner: int, issued_id: int, imported: Invoice) -> None:
    with session_scope(engine) as session:
        issued = service.get_invoice_detail(session, issued_owner, issued_id)
        received = service.get_invoice_detail(session, imported.owner_id, imported.id)

    for name in Invoice.model_fields:
        if name not in INVOICE_FIELDS_NOT_COMPARED:
            assert getattr(received.invoice, name) == getattr(issued.invoice, name), name
    for role in ("supplier", "customer"):
        mine, theirs = getattr(issued, role), getattr(received, role)
        for name in type(mine).model_fields:
            if name not in CHILD_FIELDS_NOT_COMPARED:
                assert getattr(theirs, name) == getattr(mine, name), f"{role}.{name}"
    assert len(received.lines) == len(issued.lines)
    for mine, theirs in zip(issued.lines, received.lines):
        for name in type(mine).model_fields:
            if name not in CHILD_FIELDS_NOT_COMPARED:
                assert getattr(theirs, name) == getattr(mine, name), f"line {mine.position}.{name}"
    assert len(received.tax_subtotals) == len(issued.tax_subtotals)
    for mine, theirs in zip(issued.tax_subtotals, received.tax_subtotals):
        for name in type(mine).model_fields:
            if name not in CHILD_FIELDS_NOT_COMPARED:
                assert getattr(theirs, name) == getattr(mine, name), f"subtotal {mine.category}.{name}"


@pytest.mark.parametrize(("customer", "profile", "scheme", "invoice_lines", "credit_lines"),
                         [pytest.param(*case[1:], id=case[0]) for case in DOCUMENTS])
def test_import_of_export_is_same_document(engine, customer, profile, scheme, invoice_lines, credit_lines):
    owner_id, document, xml = issue_case(engine, "lien@example.be", customer, profile, scheme, invoice_lines,
                                         credit_lines)

    imported = import_as_customer(engine, xml)

    assert imported.document_type == document.document_type
    assert_same_document(engine, owner_id, document.id, imported)


def test_roundtrip_on_both_databases(db_engine):
    owner_id = factories.new_owner(db_engine)
    customer_id = factories.add_customer(db_engine, owner_id, "brasserie")
    invoice = factories.issued(db_engine, owner_id, customer_id,
                               lines(("Développement\nSite vitrine", "7.25", "HUR", "82.5", "21"),
                                     ("Livre", "1", "C62", "19.99", "6")), note="Merci !")
    with session_scope(db_engine) as session:
        xml = export_ubl(service.get_invoice_detail(session, owner_id, invoice.id))

    imported = import_as_customer(db_engine, xml)

    assert imported.note == "Merci !"
    assert imported.buyer_reference is None
    assert_same_document(db_engine, owner_id, invoice.id, imported)


def test_imported_credit_note_lowers_imported_invoice(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, lines(("Développement", "10", "HUR", "75", "21")))
    credit_note = factories.credit(engine, owner_id, invoice.id, lines(("Développement", "2", "HUR", "75", "21")))
    with session_scope(engine) as session:
        invoice_xml = export_ubl(service.get_invoice_detail(session, owner_id, invoice.id))
        credit_xml = export_ubl(service.get_invoice_detail(session, owner_id, credit_note.id))
        receiver = sign_up(session, email="receiver@example.be", name="Receiver", password="x" * 12).id
        received = service.import_invoice(session, receiver, invoice_xml, "invoice.xml")
        received_credit = service.import_invoice(session, receiver, credit_xml, "credit.xml")

    with session_scope(engine) as session:
        stored = session.get(Invoice, received.id)
        assert stored.credited_amount == Decimal("181.50")
        assert stored.amount_due == Decimal("726.00")
        assert stored.status == "open"
        assert session.get(Invoice, received_credit.id).credited_invoice_id == received.id
        assert session.get(Invoice, received_credit.id).amount_due == Decimal("0.00")
        assert [entry.kind for entry in service.timeline(session, received.id)] == ["imported", "credited"]


def test_imported_credit_note_without_lines_rejected(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, lines(("Développement", "1", "HUR", "75", "21")))
    credit_note = factories.credit(engine, owner_id, invoice.id)
    with session_scope(engine) as session:
        xml = export_ubl(service.get_invoice_detail(session, owner_id, credit_note.id))
    from lxml import etree

    root = etree.fromstring(xml)
    for line in root.findall("{*}CreditNoteLine"):
        root.remove(line)

    with pytest.raises(errors.NoCreditNoteLines):
        import_as_customer(engine, etree.tostring(root))


def test_credit_note_fully_credits_issued_invoice(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, lines(("Développement", "3", "HUR", "75", "21")),
                               today=date(2026, 4, 1))

    credit_note = factories.credit(engine, owner_id, invoice.id)

    with session_scope(engine) as session:
        stored = session.get(Invoice, invoice.id)
        assert (stored.status, stored.credited_amount, stored.amount_due) == (
            "credited", Decimal("272.25"), Decimal("0.00"))
        assert credit_note.billing_reference == "2026-0001"
        assert credit_note.billing_reference_date == date(2026, 4, 1)
        assert credit_note.structured_communication is None
        assert [item.id for item in service.related_documents(session, stored)] == [credit_note.id]
        assert session.exec(select(Invoice.status).where(Invoice.id == credit_note.id)).one() == "issued"


def test_credit_note_cannot_exceed_invoice(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, lines(("Développement", "2", "HUR", "75", "21")))
    factories.credit(engine, owner_id, invoice.id, lines(("Développement", "1", "HUR", "75", "21")))

    with pytest.raises(errors.CreditNoteTooLarge) as caught:
        factories.credit(engine, owner_id, invoice.id, lines(("Développement", "1.5", "HUR", "75", "21")))

    assert "136,13" in str(caught.value)
    assert "90,75" in str(caught.value)

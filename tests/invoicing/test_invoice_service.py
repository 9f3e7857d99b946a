from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from backend.core.db import session_scope
from backend.invoicing import errors, service
from tests.invoicing.helpers import sample_bytes


@pytest.fixture
def invoice_id(db_engine, owner_id) -> int:
    with session_scope(db_engine) as session:
        return service.import_invoice(session, owner_id, sample_bytes(), "invoice.xml").id


def test_record_timeline_stores_json_data(db_engine, invoice_id):
    at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    with session_scope(db_engine) as session:
        service.record_timeline(session, invoice_id, "call_queued", at=at, phone="+32 81 00 00 00",
                                scheduled_for=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                                amount=Decimal("3921.61"), attempts=1)

    with session_scope(db_engine) as session:
        entries = service.timeline(session, invoice_id)

    entry = next(entry for entry in entries if entry.kind == "call_queued")
    assert entry.at == at
    assert entry.data == {"phone": "+32 81 00 00 00", "scheduled_for": "2026-11-20T09:00:00+00:00",
                          "amount": "3921.61", "attempts": 1}


def test_timeline_sorted_by_time(db_engine, invoice_id):
    with session_scope(db_engine) as session:
        service.record_timeline(session, invoice_id, "late", at=datetime(2030, 1, 1, tzinfo=UTC))
        service.record_timeline(session, invoice_id, "early", at=datetime(2020, 1, 1, tzinfo=UTC))

    with session_scope(db_engine) as session:
        kinds = [entry.kind for entry in service.timeline(session, invoice_id)]

    assert kinds == ["early", "imported", "late"]


def test_get_invoice_unknown_raises_not_found(db_engine):
    with session_scope(db_engine) as session, pytest.raises(errors.InvoiceNotFound) as caught:
        service.get_invoice(session, 4242)

    assert caught.value.status_code == 404


def test_get_owned_invoice_hides_other_owners(db_engine, invoice_id, owner_id, other_owner_id):
    with session_scope(db_engine) as session:
        assert service.get_owned_invoice(session, owner_id, invoice_id).id == invoice_id
        with pytest.raises(errors.InvoiceNotFound) as caught:
            service.get_owned_invoice(session, other_owner_id, invoice_id)

    assert caught.value.status_code == 404


def test_debtor_contact_fields(db_engine, invoice_id, owner_id):
    with session_scope(db_engine) as session:
        invoice = service.get_invoice(session, invoice_id)
        invoice.paid_amount = Decimal("921.61")
        session.add(invoice)

    with session_scope(db_engine) as session:
        contact = service.debtor_contact(session, invoice_id)

    assert contact.invoice_id == invoice_id
    assert contact.owner_id == owner_id
    assert contact.invoice_number == "2026-0117"
    assert contact.amount_due == Decimal("3000.00")
    assert contact.currency == "EUR"
    assert contact.due_date == date(2026, 11, 4)
    assert contact.structured_communication == "+++010/0002/60466+++"
    assert contact.structured_communication_digits == "010000260466"
    assert contact.iban == "BE56363123456788"
    assert contact.bic == "BBRUBEBB"
    assert contact.creditor_name == "Lien Verbeke Webontwikkeling"
    assert contact.debtor_name == "Brasserie du Quai"
    assert contact.debtor_email == "compta@example.com"
    assert contact.debtor_phone == "+32 81 00 00 00"
    assert contact.language == "fr"


def test_set_debtor_language_records_choice(db_engine, invoice_id, owner_id):
    with session_scope(db_engine) as session:
        service.set_debtor_language(session, owner_id, invoice_id, "nl")

    with session_scope(db_engine) as session:
        invoice = service.get_invoice(session, invoice_id)
        entries = service.timeline(session, invoice_id)
        contact = service.debtor_contact(session, invoice_id)

    assert invoice.debtor_language == "nl"
    assert invoice.debtor_language_source == "freelancer"
    assert contact.language == "nl"
    assert entries[-1].kind == "debtor_language_changed"
    assert entries[-1].data == {"previous_language": "fr", "language": "nl"}


def test_set_debtor_language_rejects_unknown(db_engine, invoice_id, owner_id):
    with session_scope(db_engine) as session, pytest.raises(errors.UnsupportedDebtorLanguage) as caught:
        service.set_debtor_language(session, owner_id, invoice_id, "de")

    assert "de" in str(caught.value)


def test_set_debtor_language_other_owner_not_found(db_engine, invoice_id, other_owner_id):
    with session_scope(db_engine) as session, pytest.raises(errors.InvoiceNotFound):
        service.set_debtor_language(session, other_owner_id, invoice_id, "nl")


def test_list_invoices_only_own(db_engine, invoice_id, owner_id, other_owner_id):
    with session_scope(db_engine) as session:
        own = service.list_invoices(session, owner_id)
        others = service.list_invoices(session, other_owner_id)

    assert [(summary.invoice.id, summary.debtor_name) for summary in own] == [(invoice_id, "Brasserie du Quai")]
    assert others == []


def test_overdue_only_after_due_date(db_engine, invoice_id):
    with session_scope(db_engine) as session:
        invoice = service.get_invoice(session, invoice_id)

    assert not invoice.is_overdue(date(2026, 11, 4))
    assert invoice.is_overdue(date(2026, 11, 5))

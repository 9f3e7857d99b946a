from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.collection import service
from backend.core.db import session_scope
from backend.invoicing import errors as invoicing_errors
from backend.invoicing import service as invoicing
from tests.invoicing.helpers import count_rows, sample_bytes

OPENED_AT = datetime(2026, 11, 20, 8, 5, tzinfo=UTC)


@pytest.fixture
def invoice_id(db_engine, owner_id) -> int:
    with session_scope(db_engine) as session:
        return invoicing.import_invoice(session, owner_id, sample_bytes(), "invoice.xml").id


@pytest.fixture
def letter_id(db_engine, owner_id, invoice_id) -> int:
    with session_scope(db_engine) as session:
        return service.issue_letter(session, owner_id, invoice_id).id


def kinds(engine, invoice_id: int) -> list[str]:
    with session_scope(engine) as session:
        return [entry.kind for entry in invoicing.timeline(session, invoice_id)]


def test_issue_letter_in_debtor_language(db_engine, owner_id, invoice_id):
    with session_scope(db_engine) as session:
        invoicing.set_debtor_language(session, owner_id, invoice_id, "nl")
        letter = service.issue_letter(session, owner_id, invoice_id)

    with session_scope(db_engine) as session:
        stored = service.get_letter(session, letter.id)
        entries = invoicing.timeline(session, invoice_id)

    assert stored.language == "nl"
    assert stored.status == "issued"
    assert stored.owner_id == owner_id
    assert stored.opened_at is None
    assert entries[-1].kind == "letter_issued"
    assert entries[-1].data == {"letter_id": letter.id, "language": "nl"}


def test_letter_keeps_language_after_debtor_language_change(db_engine, owner_id, invoice_id, letter_id):
    with session_scope(db_engine) as session:
        invoicing.set_debtor_language(session, owner_id, invoice_id, "en")

    with session_scope(db_engine) as session:
        assert service.get_letter(session, letter_id).language == "fr"


def test_issue_letter_for_paid_invoice_rejected(db_engine, owner_id, invoice_id):
    with session_scope(db_engine) as session:
        invoice = invoicing.get_invoice(session, invoice_id)
        invoice.paid_amount = invoice.payable_amount
        invoice.status = "paid"
        session.add(invoice)
    before = count_rows(db_engine)

    with pytest.raises(service.NothingToRemind) as caught, session_scope(db_engine) as session:
        service.issue_letter(session, owner_id, invoice_id)

    assert caught.value.status_code == 409
    assert "2026-0117" in str(caught.value)
    assert count_rows(db_engine) == before


def test_issue_letter_for_other_owner_not_found(db_engine, other_owner_id, invoice_id):
    with pytest.raises(invoicing_errors.InvoiceNotFound), session_scope(db_engine) as session:
        service.issue_letter(session, other_owner_id, invoice_id)

    assert count_rows(db_engine)["reminder_letters"] == 0


def test_get_owned_letter_hides_other_owners(db_engine, owner_id, other_owner_id, letter_id):
    with session_scope(db_engine) as session:
        assert service.get_owned_letter(session, owner_id, letter_id).id == letter_id
        with pytest.raises(service.LetterNotFound) as caught:
            service.get_owned_letter(session, other_owner_id, letter_id)

    assert caught.value.status_code == 404


def test_letters_for_invoice_in_issue_order(db_engine, owner_id, invoice_id, letter_id):
    with session_scope(db_engine) as session:
        second = service.issue_letter(session, owner_id, invoice_id)

    with session_scope(db_engine) as session:
        letters = service.letters_for_invoice(session, invoice_id)

    assert [letter.id for letter in letters] == [letter_id, second.id]


def test_mark_opened_once(db_engine, invoice_id, letter_id):
    with session_scope(db_engine) as session:
        marked = service.mark_letter_opened(session, letter_id, OPENED_AT, event_id=11)

    assert marked is not None
    assert marked.id == letter_id
    assert marked.status == "opened"
    assert marked.opened_at == OPENED_AT
    assert marked.opened_event_id == 11

    with session_scope(db_engine) as session:
        again = service.mark_letter_opened(session, letter_id, OPENED_AT + timedelta(hours=2), event_id=12)

    assert again is None
    with session_scope(db_engine) as session:
        stored = service.get_letter(session, letter_id)
        entries = invoicing.timeline(session, invoice_id)
    assert stored.opened_at == OPENED_AT
    assert stored.opened_event_id == 11
    opened = [entry for entry in entries if entry.kind == "letter_opened"]
    assert len(opened) == 1
    assert opened[0].at == OPENED_AT
    assert opened[0].data == {"letter_id": letter_id, "event_id": 11}


def test_mark_unknown_letter_not_found(db_engine):
    with pytest.raises(service.LetterNotFound), session_scope(db_engine) as session:
        service.mark_letter_opened(session, 999, OPENED_AT, event_id=None)


def test_concurrent_openings_mark_once(db_engine, invoice_id, letter_id):
    barrier = threading.Barrier(4)
    results: list[object] = []
    failures: list[BaseException] = []

    def open_letter(event_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            with session_scope(db_engine) as session:
                marked = service.mark_letter_opened(session, letter_id, OPENED_AT + timedelta(seconds=event_id),
                                                    event_id=event_id)
                results.append(marked.opened_event_id if marked else None)
        except BaseException as error:  # noqa: BLE001 (collected and asserted below)
            failures.append(error)

    threads = [threading.Thread(target=open_letter, args=(event_id,)) for event_id in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    winners = [event_id for event_id in results if event_id is not None]
    assert len(winners) == 1
    assert results.count(None) == 3
    with session_scope(db_engine) as session:
        stored = service.get_letter(session, letter_id)
    assert stored.opened_event_id == winners[0]
    assert kinds(db_engine, invoice_id).count("letter_opened") == 1


def test_amount_due_follows_payments(db_engine, owner_id, invoice_id):
    with session_scope(db_engine) as session:
        invoice = invoicing.get_invoice(session, invoice_id)
        invoice.paid_amount = Decimal("3921.60")
        session.add(invoice)

    with session_scope(db_engine) as session:
        letter = service.issue_letter(session, owner_id, invoice_id)
        contact = invoicing.debtor_contact(session, letter.invoice_id)

    assert contact.amount_due == Decimal("0.01")

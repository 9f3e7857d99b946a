"""Invoice numbers: one unbroken yearly series per issuer, also under concurrent issues."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlmodel import select

from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.invoicing import drafts, errors, issuing, numbering, service
from backend.invoicing.models import Invoice
from tests.invoicing import factories
from tests.invoicing.helpers import sample_tree, set_text, to_bytes

ONE_LINE = factories.lines(("Consulting", "1", "HUR", "100", "21"))
DRAFTS = 51
ISSUED = 50


def test_concurrent_issue_gets_distinct_numbers(db_engine):
    """Give 50 drafts issued by 50 threads at once the numbers 0001 to 0050, one each. A draft
    deleted meanwhile leaves no gap, because a draft never had a number."""
    owner_id = factories.new_owner(db_engine)
    customer_id = factories.add_customer(db_engine, owner_id, "brasserie")
    draft_ids = [factories.draft(db_engine, owner_id, customer_id, ONE_LINE) for _ in range(DRAFTS)]
    deleted_id, to_issue = draft_ids[0], draft_ids[1:]
    barrier = threading.Barrier(ISSUED + 1)
    outcomes: list[str] = []
    failures: list[str] = []

    def issue_one(invoice_id: int) -> None:
        barrier.wait(timeout=60)
        try:
            outcomes.append(factories.issue(db_engine, owner_id, invoice_id).number)
        except Exception as error:  # noqa: BLE001 (any failure fails the test below)
            failures.append(repr(error))

    def delete_one() -> None:
        barrier.wait(timeout=60)
        with session_scope(db_engine, write_lock=True) as session:
            drafts.delete_draft(session, owner_id, deleted_id)

    threads = [threading.Thread(target=issue_one, args=(invoice_id,)) for invoice_id in to_issue]
    threads.append(threading.Thread(target=delete_one))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    year = today_brussels().year
    assert failures == []
    assert sorted(outcomes) == [f"{year}-{value:04d}" for value in range(1, ISSUED + 1)]
    with session_scope(db_engine) as session:
        numbers = session.exec(select(Invoice.number).where(Invoice.owner_id == owner_id)).all()
        assert sorted(numbers) == sorted(outcomes)
        assert session.get(Invoice, deleted_id) is None
        assert numbering.last_number(session, owner_id, year) == ISSUED


def test_sqlite_issue_needs_write_lock(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    draft_id = factories.draft(engine, owner_id, customer_id, ONE_LINE)

    with pytest.raises(numbering.WriteLockRequired), session_scope(engine, write_lock=False) as session:
        issuing.issue(session, owner_id, draft_id)


def test_series_shared_by_credit_notes(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    first = factories.issued(engine, owner_id, customer_id, ONE_LINE, today=date(2026, 3, 2))
    credit_note = factories.credit(engine, owner_id, first.id)
    second = factories.issued(engine, owner_id, customer_id, ONE_LINE, today=date(2026, 3, 3))

    assert [first.number, credit_note.number, second.number] == ["2026-0001", "2026-0002", "2026-0003"]


def test_series_restarts_each_year_with_prefix(engine):
    profile = factories.FREELANCER
    profile = type(profile)(**{**profile.__dict__, "number_prefix": "IK"})
    owner_id = factories.new_owner(engine, profile=profile)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")

    numbers = [factories.issued(engine, owner_id, customer_id, ONE_LINE, today=day).number
               for day in (date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 2))]

    assert numbers == ["IK2026-0001", "IK2026-0002", "IK2027-0001"]


def test_series_per_owner(engine):
    first_owner = factories.new_owner(engine, "one@example.be")
    second_owner = factories.new_owner(engine, "two@example.be")
    numbers = []
    for owner_id in (first_owner, second_owner, first_owner):
        customer_id = factories.add_customer(engine, owner_id, "brasserie")
        numbers.append(factories.issued(engine, owner_id, customer_id, ONE_LINE, today=date(2026, 5, 4)).number)

    assert numbers == ["2026-0001", "2026-0001", "2026-0002"]


def test_failed_issue_gives_number_back(engine):
    """An issue that fails after taking its number rolls the number back with it."""
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    # An imported invoice of the freelancer's own business already has the number 2026-0001.
    with session_scope(engine) as session:
        service.import_invoice(session, owner_id, to_bytes(set_text(sample_tree(), "cbc:ID", "2026-0001")), "own.xml")
    draft_id = factories.draft(engine, owner_id, customer_id, ONE_LINE)

    with pytest.raises(errors.NumberAlreadyUsed) as caught:
        factories.issue(engine, owner_id, draft_id, today=date(2026, 6, 1))

    assert "2026-0001" in str(caught.value)
    with session_scope(engine) as session:
        assert numbering.last_number(session, owner_id, 2026) == 0
        assert service.get_invoice(session, draft_id).status == "draft"


def test_issued_invoice_cannot_change(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, ONE_LINE)

    with pytest.raises(errors.InvoiceNotDraft), session_scope(engine) as session:
        data = drafts.draft_input(session, invoice)
        drafts.update_draft(session, owner_id, invoice.id, data)
    with pytest.raises(errors.InvoiceNotDraft), session_scope(engine) as session:
        drafts.delete_draft(session, owner_id, invoice.id)
    with pytest.raises(errors.InvoiceNotDraft):
        factories.issue(engine, owner_id, invoice.id)


def test_negative_invoice_is_not_issued(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    draft_id = factories.draft(engine, owner_id, customer_id,
                               factories.lines(("Refund", "-3", "HUR", "75.00", "21")))

    with pytest.raises(errors.NegativeInvoiceTotal, match="credit note"):
        factories.issue(engine, owner_id, draft_id)

    with session_scope(engine, write_lock=False) as session:
        invoice = session.get(Invoice, draft_id)
    assert invoice.number is None

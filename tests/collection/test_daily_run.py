"""The daily run: each step once per invoice, under repeated runs, concurrent workers and missed days."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlmodel import select

from backend.collection import daily_run, disputes
from backend.collection.ladder import StepSetting, save_ladder
from backend.collection.models import DailyRun, ReminderLetter, StepClaim
from backend.core.db import session_scope
from backend.invoicing import service as invoicing
from backend.invoicing.payment_state import record_payment
from backend.notifications.models import Job
from tests.collection.factories import make_invoice

DUE = date(2026, 6, 1)


def _claims(engine, invoice_id):
    with session_scope(engine, write_lock=False) as session:
        return [(claim.step, claim.status, claim.reason) for claim in daily_run.claims_for_invoice(session, invoice_id)]


def _jobs(engine, invoice_id):
    with session_scope(engine, write_lock=False) as session:
        return [job.kind for job in session.exec(select(Job).where(Job.invoice_id == invoice_id))]


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_every_five_minutes_sends_each_step_once(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    day = DUE + timedelta(days=3)
    for minute in range(0, 24 * 60, 5):
        daily_run.run_day(db_engine, day, now=_at(day) + timedelta(minutes=minute))

    assert _claims(db_engine, invoice_id) == [("friendly_email", "sent", None)]
    assert _jobs(db_engine, invoice_id) == ["email.collection_reminder"]


def test_ladder_steps_follow_delays(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    for offset in range(0, 70):
        day = DUE + timedelta(days=offset)
        daily_run.run_day(db_engine, day, now=_at(day))

    assert [step for step, _, _ in _claims(db_engine, invoice_id)] == ["friendly_email", "letter", "formal_notice", "handoff"]
    with session_scope(db_engine, write_lock=False) as session:
        letters = session.exec(select(ReminderLetter).where(ReminderLetter.invoice_id == invoice_id)).all()
        kinds = [entry.kind for entry in invoicing.timeline(session, invoice_id)]
    assert [(letter.kind, letter.with_sticker) for letter in letters] == [("reminder", True), ("formal_notice", False)]
    assert "handoff_exported" in kinds


def test_two_workers_send_each_step_once(db_engine, owner_id):
    invoice_ids = [make_invoice(db_engine, owner_id, number=f"2026-{n:04d}", due=DUE) for n in range(1, 21)]
    day = DUE + timedelta(days=3)
    errors = []

    def work():
        try:
            daily_run.run_day(db_engine, day, now=_at(day))
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for invoice_id in invoice_ids:
        assert _claims(db_engine, invoice_id) == [("friendly_email", "sent", None)]
        assert _jobs(db_engine, invoice_id) == ["email.collection_reminder"]


def test_missed_day_caught_up_next_day(db_engine, owner_id):
    first = make_invoice(db_engine, owner_id, number="2026-0001", due=DUE)
    second = make_invoice(db_engine, owner_id, number="2026-0002", due=DUE + timedelta(days=1))
    daily_run.run_due_days(db_engine, today=DUE + timedelta(days=2), now=_at(DUE + timedelta(days=2)))
    # The day DUE + 3 is missed; the next run catches it up before running DUE + 4.
    summaries = daily_run.run_due_days(db_engine, today=DUE + timedelta(days=4), now=_at(DUE + timedelta(days=4)))

    assert [summary.run_date for summary in summaries] == [DUE + timedelta(days=3), DUE + timedelta(days=4)]
    assert summaries[0].sent == 1
    assert summaries[1].sent == 1
    assert _claims(db_engine, first) == [("friendly_email", "sent", None)]
    assert _claims(db_engine, second) == [("friendly_email", "sent", None)]
    with session_scope(db_engine, write_lock=False) as session:
        days = sorted(run.run_date for run in session.exec(select(DailyRun)))
    assert days == [DUE + timedelta(days=offset) for offset in (2, 3, 4)]


def test_paid_between_claim_and_send_not_reminded(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    day = DUE + timedelta(days=3)
    claim_id = daily_run.claim_step(db_engine, invoice_id, "friendly_email", day)
    with session_scope(db_engine) as session:
        record_payment(session, owner_id, invoice_id, None, day, "manual")

    assert daily_run.execute_claim(db_engine, claim_id, now=_at(day)) == "skipped"
    assert _claims(db_engine, invoice_id) == [("friendly_email", "skipped", "paid")]
    assert _jobs(db_engine, invoice_id) == []
    with session_scope(db_engine, write_lock=False) as session:
        kinds = [entry.kind for entry in invoicing.timeline(session, invoice_id)]
    assert "collection_step_skipped" in kinds


def test_credited_invoice_not_reminded(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    day = DUE + timedelta(days=3)
    claim_id = daily_run.claim_step(db_engine, invoice_id, "friendly_email", day)
    with session_scope(db_engine) as session:
        # What an issued credit note covering the invoice does to it.
        invoice = invoicing.get_invoice(session, invoice_id)
        invoice.credited_amount = invoice.payable_amount
        invoice.status = "credited"
        session.add(invoice)

    assert daily_run.execute_claim(db_engine, claim_id, now=_at(day)) == "skipped"
    assert _claims(db_engine, invoice_id) == [("friendly_email", "skipped", "credited")]
    assert daily_run.run_day(db_engine, day + timedelta(days=30), now=_at(day)).evaluated == 0


def test_partly_paid_invoice_reminded_for_rest(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    with session_scope(db_engine) as session:
        record_payment(session, owner_id, invoice_id, Decimal("400.00"), DUE, "manual")
    day = DUE + timedelta(days=3)
    daily_run.run_day(db_engine, day, now=_at(day))

    with session_scope(db_engine, write_lock=False) as session:
        claim = session.exec(select(StepClaim).where(StepClaim.invoice_id == invoice_id)).one()
    assert claim.amount == Decimal("600.00")


def test_paused_invoice_waits_then_resumes(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    with session_scope(db_engine) as session:
        disputes.pause(session, invoice_id, DUE + timedelta(days=10), "Payment plan agreed", "freelancer", today=DUE)
    for offset in range(3, 12):
        day = DUE + timedelta(days=offset)
        daily_run.run_day(db_engine, day, now=_at(day))
        if offset <= 10:
            assert _claims(db_engine, invoice_id) == []

    assert _claims(db_engine, invoice_id) == [("friendly_email", "sent", None)]


def test_hold_after_claim_postpones_step(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    day = DUE + timedelta(days=3)
    claim_id = daily_run.claim_step(db_engine, invoice_id, "friendly_email", day)
    with session_scope(db_engine) as session:
        disputes.open_dispute(session, invoice_id, "The logo was never delivered.", "debtor")

    assert daily_run.execute_claim(db_engine, claim_id, now=_at(day)) == "postponed"
    assert _claims(db_engine, invoice_id) == []
    with session_scope(db_engine, write_lock=False) as session:
        entries = {entry.kind: entry.data for entry in invoicing.timeline(session, invoice_id)}
    assert entries["collection_step_postponed"]["reason"] == "disputed"


def test_debtor_ladder_replaces_freelancer_ladder(db_engine, owner_id):
    invoice_id = make_invoice(db_engine, owner_id, due=DUE)
    with session_scope(db_engine) as session:
        save_ladder(session, owner_id, [StepSetting("friendly_email", 3, enabled=False), StepSetting("letter", 5)])
        save_ladder(session, owner_id, [StepSetting("letter", 1)], debtor_key="0403170701")
    daily_run.run_day(db_engine, DUE + timedelta(days=1), now=_at(DUE + timedelta(days=1)))

    assert _claims(db_engine, invoice_id) == [("letter", "sent", None)]

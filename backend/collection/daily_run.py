"""The daily run: every open, overdue, managed invoice moves up its ladder by at most one step.

Each step happens at most once per invoice. The step is claimed first, in its own transaction,
by inserting the unique (invoice, step) row while the invoice row is locked (``SELECT ... FOR
UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). Two runs or two workers
therefore never send a step twice. Just before the step goes out, a second transaction checks
the invoice again and skips it, with the reason on the timeline, when it was paid, credited,
disputed or paused in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.collection import disputes, steps
from backend.collection.ladder import LadderIndex, StepSetting, next_step
from backend.collection.models import DailyRun, LadderStep, StepClaim
from backend.core.db import session_scope
from backend.core.time import today_brussels, utcnow
from backend.invoicing import collection_queries
from backend.invoicing import service as invoicing
from backend.invoicing.collection_queries import OverdueInvoice

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
# A run catches up at most this many missed days; older days are recorded as caught up by the first run.
MAX_CATCH_UP_DAYS = 31


@dataclass
class RunSummary:
    run_date: date
    evaluated: int = 0
    sent: int = 0
    skipped: int = 0
    postponed: int = 0
    steps: dict[str, int] = field(default_factory=dict)


def run_due_days(engine: Engine, today: date | None = None, now: datetime | None = None) -> list[RunSummary]:
    """Run every day since the last finished run up to ``today`` (Brussels), oldest first.

    Runs today again even when it has already run: claims make a second run send nothing twice.
    """
    today = today or today_brussels()
    with session_scope(engine, write_lock=False) as session:
        last = session.exec(select(DailyRun.run_date).where(DailyRun.finished_at.is_not(None))
                            .order_by(DailyRun.run_date.desc())).first()
    first = today if last is None else max(last + timedelta(days=1), today - timedelta(days=MAX_CATCH_UP_DAYS))
    days = [first + timedelta(days=offset) for offset in range((today - first).days + 1)] or [today]
    return [run_day(engine, day, now=now) for day in days]


def run_day(engine: Engine, run_date: date, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> RunSummary:
    """Evaluate every candidate invoice as of ``run_date`` and carry out the steps that are due."""
    _start_run(engine, run_date)
    summary = RunSummary(run_date)
    after_id = 0
    while True:
        with session_scope(engine, write_lock=False) as session:
            batch = collection_queries.overdue_invoices(session, run_date, after_id=after_id, limit=batch_size)
            due = _due_steps(session, batch, run_date)
        if not batch:
            break
        after_id = batch[-1].invoice_id
        summary.evaluated += len(batch)
        for overdue, step in due:
            claim_id = claim_step(engine, overdue.invoice_id, step.step, run_date)
            if claim_id is None:
                continue
            outcome = execute_claim(engine, claim_id, now=now)
            if outcome == "sent":
                summary.sent += 1
                summary.steps[step.step] = summary.steps.get(step.step, 0) + 1
            elif outcome == "skipped":
                summary.skipped += 1
            else:
                summary.postponed += 1
    _finish_run(engine, summary)
    log.info("collection.run_finished", run_date=run_date.isoformat(), evaluated=summary.evaluated,
             sent=summary.sent, skipped=summary.skipped, postponed=summary.postponed)
    return summary


def _start_run(engine: Engine, run_date: date) -> None:
    with session_scope(engine) as session:
        if session.exec(select(DailyRun).where(DailyRun.run_date == run_date)).first() is not None:
            return
        try:
            with session.begin_nested():
                session.add(DailyRun(run_date=run_date))
                session.flush()
        except IntegrityError:
            pass  # another worker started the same day


def _finish_run(engine: Engine, summary: RunSummary) -> None:
    with session_scope(engine) as session:
        run = session.exec(select(DailyRun).where(DailyRun.run_date == summary.run_date)).one()
        run.finished_at = utcnow()
        run.evaluated += summary.evaluated
        run.sent += summary.sent
        run.skipped += summary.skipped
        session.add(run)


def _due_steps(session: Session, batch: list[OverdueInvoice], as_of: date) -> list[tuple[OverdueInvoice, StepSetting]]:
    """Return the step due today for each invoice of the batch that has one."""
    if not batch:
        return []
    ids = [overdue.invoice_id for overdue in batch]
    owners = {overdue.owner_id for overdue in batch}
    ladders = LadderIndex(session.exec(select(LadderStep).where(LadderStep.owner_id.in_(owners))))
    claims: dict[int, list[StepClaim]] = {}
    for claim in session.exec(select(StepClaim).where(StepClaim.invoice_id.in_(ids))):
        claims.setdefault(claim.invoice_id, []).append(claim)
    held = disputes.held_invoice_ids(session, ids, as_of)

    due = []
    for overdue in batch:
        if overdue.invoice_id in held:
            continue
        done = claims.get(overdue.invoice_id, [])
        if overdue.debtor_kind == "consumer" and _consumer_period_running(done, as_of):
            continue
        ladder = ladders.ladder(overdue.owner_id, overdue.debtor_key)
        step = next_step(ladder, overdue.due_date, as_of, {claim.step for claim in done})
        if step is not None:
            due.append((overdue, step))
    return due


def _consumer_period_running(done: list[StepClaim], as_of: date) -> bool:
    """Return whether a consumer's free first reminder still runs its payment period, which the next step waits for."""
    periods = [claim.pay_by for claim in done if claim.status == "sent" and claim.pay_by is not None]
    return bool(periods) and as_of <= max(periods)


def claim_step(engine: Engine, invoice_id: int, step: str, run_date: date) -> int | None:
    """Insert the (invoice, step) claim and return its id.

    Returns None when another transaction has locked the invoice or has claimed the step.
    """
    with session_scope(engine) as session:
        locked = collection_queries.lock_invoice_for_collection(session, invoice_id, skip_locked=True)
        if locked is None:
            return None
        claim = StepClaim(invoice_id=invoice_id, owner_id=locked.owner_id, step=step, run_date=run_date)
        try:
            with session.begin_nested():
                session.add(claim)
                session.flush()
        except IntegrityError:
            return None
        log.info("collection.step_claimed", invoice_id=invoice_id, step=step, claim_id=claim.id)
        return claim.id


def execute_claim(engine: Engine, claim_id: int, now: datetime | None = None) -> str:
    """Carry out a claimed step after checking the invoice again; returns "sent", "skipped" or "postponed"."""
    now = now or utcnow()
    with session_scope(engine) as session:
        claim = session.get(StepClaim, claim_id)
        if claim is None or claim.status != "claimed":
            return "skipped"
        overdue = collection_queries.lock_invoice_for_collection(session, claim.invoice_id, skip_locked=False)
        if overdue is None:
            return _skip(session, claim, _closed_reason(session, claim.invoice_id))
        hold = disputes.active_hold(session, claim.invoice_id, claim.run_date)
        if hold is not None:
            # The step is released, not spent: it goes out once the dispute or pause ends.
            session.delete(claim)
            invoicing.record_timeline(session, claim.invoice_id, "collection_step_postponed", step=claim.step,
                                      reason="disputed" if hold.kind == "dispute" else "paused", hold_id=hold.id)
            log.info("collection.step_postponed", invoice_id=claim.invoice_id, step=claim.step, hold=hold.kind)
            return "postponed"

        steps.perform(session, claim, overdue, now)
        claim.status = "sent"
        claim.finished_at = utcnow()
        session.add(claim)
        log.info("collection.step_sent", invoice_id=claim.invoice_id, step=claim.step, claim_id=claim.id)
        return "sent"


def _closed_reason(session: Session, invoice_id: int) -> str:
    invoice = invoicing.get_invoice(session, invoice_id)
    if invoice.status in ("paid", "credited"):
        return invoice.status
    if invoice.credited_amount > 0 and invoice.amount_due <= 0:
        return "credited"
    return "paid" if invoice.amount_due <= 0 else "not_open"


def _skip(session: Session, claim: StepClaim, reason: str) -> str:
    claim.status = "skipped"
    claim.reason = reason
    claim.finished_at = utcnow()
    session.add(claim)
    invoicing.record_timeline(session, claim.invoice_id, "collection_step_skipped", step=claim.step, reason=reason)
    log.info("collection.step_skipped", invoice_id=claim.invoice_id, step=claim.step, reason=reason)
    return "skipped"


def claims_for_invoice(session: Session, invoice_id: int) -> list[StepClaim]:
    return list(session.exec(select(StepClaim).where(StepClaim.invoice_id == invoice_id).order_by(StepClaim.id)))

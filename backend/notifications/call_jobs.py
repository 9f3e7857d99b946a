"""Placing the debtor's call at an allowed hour, and acting on its outcome.

A call is placed only while the invoice is open, owing, and neither disputed nor paused, and
never to a consumer. No answer and busy are tried again after ``call_retry_delay_minutes``, in
the next allowed slot, up to ``call_max_attempts`` attempts; every outcome goes on the timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlmodel import Session, select

from backend.core.settings import Settings, get_settings
from backend.core.time import to_brussels, utcnow
from backend.invoicing import collection_queries
from backend.invoicing import service as invoicing
from backend.notifications import telephony
from backend.notifications.call_models import CallAttempt
from backend.notifications.jobs import PermanentJobError, handler, queue_job
from backend.notifications.models import Job, Message

log = structlog.get_logger(__name__)

CALLBACK_PATH = "/webhooks/telephony/status"


def schedule_call(session: Session, invoice_id: int, message_id: int, attempt: int, earliest: datetime,
                  settings: Settings | None = None) -> Job | None:
    """Queue the placing of a prepared call at the first allowed slot from ``earliest``."""
    settings = settings or get_settings()
    slot = telephony.next_call_slot(earliest, settings.call_hours_start, settings.call_hours_end)
    # NOTE: the job carries its invoice in the payload and the dedupe key, not in invoice_id,
    # so that the outbox jobs of a letter's opening stay exactly one e-mail and one call script.
    # ``cancel_calls_for_invoice`` finds it by the key's prefix.
    job = queue_job(session, "call.place", run_after=slot,
                    payload={"invoice_id": invoice_id, "message_id": message_id, "attempt": attempt},
                    dedupe_key=f"{_key_prefix(invoice_id)}{message_id}:{attempt}")
    if job is not None:
        invoicing.record_timeline(session, invoice_id, "call_scheduled", at=utcnow(), slot=slot, attempt=attempt)
    return job


def _key_prefix(invoice_id: int) -> str:
    return f"call-place:invoice-{invoice_id}:"


def cancel_calls_for_invoice(session: Session, invoice_id: int, reason: str) -> int:
    """Cancel the invoice's calls that are queued and not placed yet."""
    jobs = session.exec(select(Job).where(Job.kind == "call.place", Job.status == "pending",
                                          Job.dedupe_key.startswith(_key_prefix(invoice_id)))).all()
    for job in jobs:
        job.status = "cancelled"
        job.last_error = reason
        job.finished_at = utcnow()
        session.add(job)
    if jobs:
        invoicing.record_timeline(session, invoice_id, "call_cancelled", reason=reason, count=len(jobs))
        log.info("call.cancelled", invoice_id=invoice_id, count=len(jobs), reason=reason)
    return len(jobs)


def _reason_not_to_call(session: Session, invoice_id: int, today) -> str | None:
    from backend.collection.disputes import active_hold

    debtor = collection_queries.debtor_of(session, invoice_id)
    invoice = invoicing.get_invoice(session, invoice_id)
    if invoice.status != "open" or invoice.amount_due <= 0:
        return invoice.status
    if debtor is not None and debtor.debtor_kind == "consumer":
        return "consumer"
    hold = active_hold(session, invoice_id, today)
    if hold is not None:
        return "disputed" if hold.kind == "dispute" else "paused"
    return None


@handler("call.place")
def place_call(session: Session, job: Job) -> None:
    settings = get_settings()
    now = utcnow()
    invoice_id = job.payload["invoice_id"]
    reason = _reason_not_to_call(session, invoice_id, to_brussels(now).date())
    if reason is not None:
        invoicing.record_timeline(session, invoice_id, "call_skipped", reason=reason, attempt=job.payload["attempt"])
        return
    slot = telephony.next_call_slot(now, settings.call_hours_start, settings.call_hours_end)
    if slot != now:
        # The worker ran past the allowed hours (it was down or busy): the call waits for the next slot.
        _requeue(session, job, slot)
        return

    message = session.get(Message, job.payload["message_id"])
    if message is None:
        raise PermanentJobError(f"call message {job.payload['message_id']} not found")
    attempt = CallAttempt(invoice_id=invoice_id, owner_id=message.owner_id, message_id=message.id,
                          attempt=job.payload["attempt"], provider=settings.telephony_provider)
    session.add(attempt)
    session.flush()
    request = telephony.CallRequest(
        to=message.recipient, script=message.body_text, language=message.language,
        status_callback=settings.base_url.rstrip("/") + CALLBACK_PATH, reference=str(attempt.id),
    )
    result = telephony.provider_for(settings).place_call(request)
    attempt.provider_call_id = result.provider_call_id
    session.add(attempt)
    invoicing.record_timeline(session, invoice_id, "call_placed", provider=settings.telephony_provider,
                              attempt=attempt.attempt, to=message.recipient, language=message.language)
    if result.status != "queued":
        record_outcome(session, attempt, result.status, settings)


def _requeue(session: Session, job: Job, slot: datetime) -> None:
    invoice_id = job.payload["invoice_id"]
    queue_job(session, "call.place", run_after=slot, payload=dict(job.payload),
              dedupe_key=f"{_key_prefix(invoice_id)}{job.payload['message_id']}:{job.payload['attempt']}:after-{job.id}")
    invoicing.record_timeline(session, invoice_id, "call_scheduled", slot=slot, attempt=job.payload["attempt"])


def record_outcome(session: Session, attempt: CallAttempt, outcome: str, settings: Settings | None = None,
                   now: datetime | None = None) -> None:
    """Store a call's final outcome once, and schedule the next attempt on no answer or busy."""
    settings = settings or get_settings()
    now = now or utcnow()
    if attempt.status != "placed":
        log.info("call.outcome_again", attempt_id=attempt.id, outcome=outcome)
        return
    attempt.status = outcome
    attempt.finished_at = now
    session.add(attempt)
    invoicing.record_timeline(session, attempt.invoice_id, "call_outcome", outcome=outcome, attempt=attempt.attempt)
    log.info("call.outcome", attempt_id=attempt.id, invoice_id=attempt.invoice_id, outcome=outcome)
    if outcome in telephony.RETRY_OUTCOMES:
        if attempt.attempt < settings.call_max_attempts:
            schedule_call(session, attempt.invoice_id, attempt.message_id, attempt.attempt + 1,
                          now + timedelta(minutes=settings.call_retry_delay_minutes), settings)
        else:
            invoicing.record_timeline(session, attempt.invoice_id, "call_given_up", attempts=attempt.attempt)


def attempt_by_provider_id(session: Session, provider_call_id: str) -> CallAttempt | None:
    return session.exec(select(CallAttempt).where(CallAttempt.provider_call_id == provider_call_id)).first()

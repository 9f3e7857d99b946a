"""Carrying out one claimed ladder step: the e-mail, the letter, the formal notice, the hand-off."""

from __future__ import annotations

from datetime import date, datetime

import structlog
from sqlmodel import Session, select

from backend.collection import consumer, handoff
from backend.collection.models import ReminderLetter, StepClaim
from backend.core.time import to_brussels
from backend.invoicing import service as invoicing
from backend.invoicing.collection_queries import OverdueInvoice
from backend.notifications.service import queue_job

log = structlog.get_logger(__name__)

# The channel of each step, which sets the first day of a consumer's payment period.
CHANNELS = {"friendly_email": "email", "letter": "post", "formal_notice": "post"}


def perform(session: Session, claim: StepClaim, overdue: OverdueInvoice, now: datetime) -> None:
    today = to_brussels(now).date()
    claim.amount = overdue.amount_due
    if overdue.debtor_kind == "consumer" and claim.step in CHANNELS and _is_first_reminder(session, claim):
        claim.pay_by = consumer.payment_period(today, CHANNELS[claim.step])[1]

    if claim.step == "friendly_email":
        _queue_email(session, claim)
    elif claim.step == "letter":
        _issue_letter(session, claim, overdue, "reminder", now, with_sticker=overdue.debtor_kind != "consumer")
    elif claim.step == "formal_notice":
        _issue_letter(session, claim, overdue, "formal_notice", now, with_sticker=False)
        _queue_email(session, claim)
    elif claim.step == "handoff":
        path = handoff.write_export(session, overdue.invoice_id, today)
        invoicing.record_timeline(session, overdue.invoice_id, "handoff_exported", file=path.name)
    else:
        raise ValueError(f"unknown ladder step {claim.step!r}")
    invoicing.record_timeline(session, overdue.invoice_id, "collection_step_sent", step=claim.step,
                              amount=claim.amount, pay_by=claim.pay_by)


def _is_first_reminder(session: Session, claim: StepClaim) -> bool:
    query = select(StepClaim.id).where(StepClaim.invoice_id == claim.invoice_id, StepClaim.status == "sent",
                                       StepClaim.id != claim.id)
    return session.exec(query).first() is None


def _queue_email(session: Session, claim: StepClaim) -> None:
    queue_job(session, "email.collection_reminder", invoice_id=claim.invoice_id,
              payload={"claim_id": claim.id, "step": claim.step}, dedupe_key=f"collection-claim:{claim.id}:email")


def _issue_letter(session: Session, claim: StepClaim, overdue: OverdueInvoice, kind: str, now: datetime,
                  with_sticker: bool) -> ReminderLetter:
    language = invoicing.get_invoice(session, overdue.invoice_id).debtor_language
    letter = ReminderLetter(invoice_id=overdue.invoice_id, owner_id=overdue.owner_id, language=language,
                            kind=kind, with_sticker=with_sticker, issued_at=now)
    session.add(letter)
    session.flush()
    invoicing.record_timeline(session, overdue.invoice_id, "letter_issued", at=letter.issued_at, letter_id=letter.id,
                              language=language, letter_kind=kind, with_sticker=with_sticker, claim_id=claim.id)
    log.info("letter.issued", letter_id=letter.id, invoice_id=overdue.invoice_id, kind=kind)
    return letter


def letters_issued_on(session: Session, owner_id: int, day: date) -> list[ReminderLetter]:
    """Return the owner's letters issued on one Brussels day, for the day's print batch."""
    letters = session.exec(select(ReminderLetter).where(ReminderLetter.owner_id == owner_id)
                           .order_by(ReminderLetter.issued_at, ReminderLetter.id)).all()
    return [letter for letter in letters if to_brussels(letter.issued_at).date() == day]

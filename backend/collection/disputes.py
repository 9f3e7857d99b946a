"""Disputes and pauses: the debtor or the freelancer stops the ladder for one invoice.

A dispute lasts until it is lifted; a pause lasts until its last day. While either holds,
the daily run claims no step for the invoice and the timeline says why.
"""

from __future__ import annotations

from datetime import date

import structlog
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, select

from backend.collection.models import InvoiceHold
from backend.core.errors import InvalidInput, NotFound
from backend.core.settings import get_settings
from backend.core.time import today_brussels, utcnow
from backend.invoicing import service as invoicing
from backend.notifications.call_jobs import cancel_calls_for_invoice
from backend.notifications.service import cancel_jobs_for_invoice

log = structlog.get_logger(__name__)

TOKEN_SALT = "ikki.collection.debtor-link"
MAX_REASON_CHARS = 2000


class HoldNotFound(NotFound):
    message = "No active dispute or pause {hold_id} was found on this invoice."


class InvalidDebtorLink(NotFound):
    message = "This link is invalid or no longer valid. Please contact the sender of the invoice."


class ReasonRequired(InvalidInput):
    message = "Please give the reason for the dispute."


class PauseInPast(InvalidInput):
    message = "A pause must last until today or a later day, not {until}."


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=TOKEN_SALT)


def debtor_token(invoice_id: int) -> str:
    """Return the signed token of the debtor's link for one invoice."""
    return _serializer().dumps({"invoice": invoice_id})


def invoice_from_token(token: str) -> int:
    try:
        data = _serializer().loads(token)
    except BadSignature as error:
        raise InvalidDebtorLink() from error
    if not isinstance(data, dict) or not isinstance(data.get("invoice"), int):
        raise InvalidDebtorLink()
    return data["invoice"]


def is_active(hold: InvoiceHold, today: date) -> bool:
    if hold.lifted_at is not None:
        return False
    return hold.until is None or hold.until >= today


def active_hold(session: Session, invoice_id: int, today: date | None = None) -> InvoiceHold | None:
    """Return the invoice's dispute if any, else its pause that has not ended, else None."""
    today = today or today_brussels()
    holds = session.exec(select(InvoiceHold).where(InvoiceHold.invoice_id == invoice_id,
                                                   InvoiceHold.lifted_at.is_(None))).all()
    active = [hold for hold in holds if is_active(hold, today)]
    active.sort(key=lambda hold: (hold.kind != "dispute", hold.id))
    return active[0] if active else None


def held_invoice_ids(session: Session, invoice_ids: list[int], today: date) -> set[int]:
    if not invoice_ids:
        return set()
    holds = session.exec(select(InvoiceHold).where(InvoiceHold.invoice_id.in_(invoice_ids),
                                                   InvoiceHold.lifted_at.is_(None))).all()
    return {hold.invoice_id for hold in holds if is_active(hold, today)}


def holds_for_invoice(session: Session, invoice_id: int) -> list[InvoiceHold]:
    return list(session.exec(select(InvoiceHold).where(InvoiceHold.invoice_id == invoice_id).order_by(InvoiceHold.id)))


def open_dispute(session: Session, invoice_id: int, reason: str, opened_by: str) -> InvoiceHold:
    """Mark the invoice disputed; pending e-mails and calls for it are cancelled."""
    reason = reason.strip()[:MAX_REASON_CHARS]
    if not reason:
        raise ReasonRequired()
    invoicing.get_invoice(session, invoice_id)

    hold = InvoiceHold(invoice_id=invoice_id, kind="dispute", reason=reason, opened_by=opened_by)
    session.add(hold)
    session.flush()
    cancelled = cancel_jobs_for_invoice(session, invoice_id, "invoice disputed")
    cancelled += cancel_calls_for_invoice(session, invoice_id, "invoice disputed")
    invoicing.record_timeline(session, invoice_id, "dispute_opened", hold_id=hold.id, reason=reason,
                              opened_by=opened_by, cancelled_jobs=cancelled)
    log.info("collection.dispute_opened", invoice_id=invoice_id, hold_id=hold.id, opened_by=opened_by)
    return hold


def pause(session: Session, invoice_id: int, until: date, reason: str, opened_by: str,
          today: date | None = None) -> InvoiceHold:
    """Pause the ladder for the invoice until ``until``, included; pending jobs are cancelled."""
    today = today or today_brussels()
    if until < today:
        raise PauseInPast(until=until.isoformat())
    invoicing.get_invoice(session, invoice_id)

    hold = InvoiceHold(invoice_id=invoice_id, kind="pause", reason=reason.strip()[:MAX_REASON_CHARS],
                       until=until, opened_by=opened_by)
    session.add(hold)
    session.flush()
    cancelled = cancel_jobs_for_invoice(session, invoice_id, "collection paused")
    cancelled += cancel_calls_for_invoice(session, invoice_id, "collection paused")
    invoicing.record_timeline(session, invoice_id, "collection_paused", hold_id=hold.id, until=until,
                              reason=hold.reason, opened_by=opened_by, cancelled_jobs=cancelled)
    log.info("collection.paused", invoice_id=invoice_id, hold_id=hold.id, until=until.isoformat())
    return hold


def lift(session: Session, invoice_id: int, hold_id: int) -> InvoiceHold:
    """End a dispute or a pause before its time, so that the ladder resumes."""
    hold = session.get(InvoiceHold, hold_id)
    if hold is None or hold.invoice_id != invoice_id or hold.lifted_at is not None:
        raise HoldNotFound(hold_id=hold_id)
    hold.lifted_at = utcnow()
    session.add(hold)
    invoicing.record_timeline(session, invoice_id, "hold_lifted", hold_id=hold.id, kind=hold.kind)
    log.info("collection.hold_lifted", invoice_id=invoice_id, hold_id=hold.id)
    return hold

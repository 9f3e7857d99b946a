"""Reminder letters: issuing them and marking them opened when their sticker reports it.

Functions flush and leave the commit to the request, message or job that called them.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import structlog
from sqlmodel import Session, select

from backend.collection.models import ReminderLetter
from backend.core.errors import Conflict, NotFound
from backend.invoicing import collection_queries
from backend.invoicing import service as invoicing

log = structlog.get_logger(__name__)


class LetterNotFound(NotFound):
    message = "Reminder letter {letter_id} was not found."


class NothingToRemind(Conflict):
    message = "Invoice {number} has nothing left to pay, so no reminder letter can be issued."


def issue_letter(session: Session, owner_id: int, invoice_id: int) -> ReminderLetter:
    """Issue a reminder letter for an unpaid invoice, in the debtor's current language."""
    invoice = invoicing.get_owned_invoice(session, owner_id, invoice_id)
    if invoice.status == "paid" or invoice.amount_due <= 0:
        raise NothingToRemind(number=invoice.number)

    # The sticker, and the call its opening starts, are not used on consumers.
    debtor = collection_queries.debtor_of(session, invoice.id)
    with_sticker = debtor is None or debtor.debtor_kind != "consumer"
    letter = ReminderLetter(invoice_id=invoice.id, owner_id=owner_id, language=invoice.debtor_language,
                            with_sticker=with_sticker)
    session.add(letter)
    session.flush()
    invoicing.record_timeline(session, invoice.id, "letter_issued", at=letter.issued_at,
                              letter_id=letter.id, language=letter.language)
    log.info("letter.issued", letter_id=letter.id, invoice_id=invoice.id, owner_id=owner_id)
    return letter


def get_letter(session: Session, letter_id: int) -> ReminderLetter:
    letter = session.get(ReminderLetter, letter_id)
    if letter is None:
        raise LetterNotFound(letter_id=letter_id)
    return letter


def get_owned_letter(session: Session, owner_id: int, letter_id: int) -> ReminderLetter:
    """Return the letter if ``owner_id`` owns it. Another owner's letter is reported as not found."""
    letter = session.get(ReminderLetter, letter_id)
    if letter is None or letter.owner_id != owner_id:
        raise LetterNotFound(letter_id=letter_id)
    return letter


def letters_for_invoice(session: Session, invoice_id: int) -> list[ReminderLetter]:
    statement = (
        select(ReminderLetter)
        .where(ReminderLetter.invoice_id == invoice_id)
        .order_by(ReminderLetter.issued_at, ReminderLetter.id)
    )
    return list(session.exec(statement))


def mark_letter_opened(session: Session, letter_id: int, opened_at: datetime,
                       event_id: int | None,
                       window: tuple[datetime, datetime] | None = None) -> ReminderLetter | None:
    """Mark the letter opened at ``opened_at`` and record "letter_opened" on its invoice.

    Returns the letter when this call marked it, and None when it was already opened: the
    first opening time stays. A conditional update decides, so of two concurrent calls
    exactly one marks the letter. Raises LetterNotFound for an unknown letter. ``window`` is
    the earliest and latest time the opening can have happened, shown on the timeline,
    because the sticker's clock is not trusted.

    The update is the first statement, so that on SQLite it takes the write lock before
    any read. A caller that reads first in the same transaction should open it with
    ``session_scope(write_lock=True)``.
    """
    result = session.execute(
        sa.update(ReminderLetter)
        .where(ReminderLetter.id == letter_id, ReminderLetter.opened_at.is_(None))
        .values(opened_at=opened_at, opened_event_id=event_id, status="opened")
    )
    letter = get_letter(session, letter_id)
    session.refresh(letter)
    if result.rowcount != 1:
        log.info("letter.opened_again", letter_id=letter_id, event_id=event_id)
        return None

    bounds = {"earliest_at": window[0], "latest_at": window[1]} if window else {}
    invoicing.record_timeline(session, letter.invoice_id, "letter_opened", at=opened_at,
                              letter_id=letter.id, event_id=event_id, **bounds)
    log.info("letter.opened", letter_id=letter.id, invoice_id=letter.invoice_id, event_id=event_id)
    return letter

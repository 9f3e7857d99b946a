"""What happens when a debtor opens a reminder letter: an e-mail and a phone call, at once.

Both jobs are queued in the transaction that stores the sticker's event, so they exist
if and only if the opening is stored; the worker runs them after commit.
"""

from __future__ import annotations

import structlog
from sqlmodel import Session

from backend.invoicing import service as invoicing
from backend.notifications.service import queue_job

log = structlog.get_logger(__name__)


def escalate_opened_letter(session: Session, *, invoice_id: int, letter_id: int, event_id: int | None) -> None:
    email = queue_job(session, "email.letter_opened", invoice_id=invoice_id,
                      payload={"letter_id": letter_id, "event_id": event_id},
                      dedupe_key=f"letter:{letter_id}:opened:email")
    call = queue_job(session, "call.letter_opened", invoice_id=invoice_id,
                     payload={"letter_id": letter_id, "event_id": event_id},
                     dedupe_key=f"letter:{letter_id}:opened:call")
    if call is not None:
        invoicing.record_timeline(session, invoice_id, "call_queued", letter_id=letter_id)
    log.info("letter.escalated", letter_id=letter_id, invoice_id=invoice_id,
             email_job=email.id if email else None, call_job=call.id if call else None)

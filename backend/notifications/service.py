"""Notifications as other domains see them: queue an e-mail or a call, list what was sent."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.notifications.jobs import cancel_jobs_for_invoice, jobs_for_invoice, queue_job
from backend.notifications.models import Job, Message

__all__ = ["cancel_jobs_for_invoice", "jobs_for_invoice", "queue_job", "messages_for_owner",
           "messages_for_invoice", "get_owned_message"]


def messages_for_owner(session: Session, owner_id: int, limit: int = 200) -> list[Message]:
    query = select(Message).where(Message.owner_id == owner_id).order_by(Message.id.desc()).limit(limit)
    return list(session.exec(query).all())


def messages_for_invoice(session: Session, invoice_id: int) -> list[Message]:
    return list(session.exec(select(Message).where(Message.invoice_id == invoice_id).order_by(Message.id)).all())


def get_owned_message(session: Session, owner_id: int, message_id: int) -> Message | None:
    message = session.get(Message, message_id)
    if message is None or message.owner_id != owner_id:
        return None
    return message


def pending_jobs(session: Session) -> list[Job]:
    return list(session.exec(select(Job).where(Job.status == "pending")).all())

"""Reminder letters, the paper step of collection that carries the sticker."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.core.time import UTCDateTime, utcnow

LETTER_STATUSES = ("issued", "opened")


class ReminderLetter(SQLModel, table=True):
    __tablename__ = "reminder_letters"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    # The debtor's language when the letter was issued; the letter keeps it.
    language: str = Field(max_length=2)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The first opening reported by the sticker; later reports do not change it.
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The sticker event that reported the opening, as stored by the devices domain.
    opened_event_id: int | None = None
    status: str = Field(default="issued", max_length=10)

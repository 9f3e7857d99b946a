"""Phone calls placed through a telephony provider, one row per attempt."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.time import UTCDateTime, utcnow

# Final outcomes a provider reports, and "rendered" for the local provider, which calls nobody.
CALL_OUTCOMES = ("completed", "no-answer", "busy", "failed", "canceled", "rendered")


class CallAttempt(SQLModel, table=True):
    __tablename__ = "call_attempts"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(index=True)
    owner_id: int | None = Field(default=None, index=True)
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    attempt: int
    provider: str = Field(max_length=20)
    provider_call_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(100), unique=True))
    # "placed" until the provider reports an outcome.
    status: str = Field(default="placed", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

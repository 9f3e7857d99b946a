from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.time import UTCDateTime, utcnow


class Job(SQLModel, table=True):
    """An outbox entry: work queued in the transaction that caused it, run by a worker after commit."""

    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    status: str = Field(default="pending", max_length=20)
    invoice_id: int | None = Field(default=None, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Two jobs with the same key are one job: queueing it again does nothing.
    dedupe_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(200), unique=True))
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attempts: int = 0
    max_attempts: int = 5
    last_error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """An e-mail or call script produced by a job, as the recipient got it."""

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int | None = Field(default=None, foreign_key="jobs.id", index=True)
    owner_id: int | None = Field(default=None, index=True)
    invoice_id: int | None = Field(default=None, index=True)
    channel: str = Field(max_length=10)
    recipient: str = Field(max_length=254)
    language: str = Field(max_length=2)
    subject: str = Field(default="", max_length=300)
    body_text: str = Field(default="", sa_type=sa.Text)
    transport: str = Field(max_length=20)
    file_path: str | None = None
    audio_path: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

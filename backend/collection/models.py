"""Reminder letters, the paper step of collection that carries the sticker."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.money import DecimalAmount
from backend.core.time import UTCDateTime, utcnow

LETTER_STATUSES = ("issued", "opened")
LETTER_KINDS = ("reminder", "formal_notice")


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
    kind: str = Field(default="reminder", max_length=20)
    # False for consumers: the sticker and the automated call are not used on them.
    with_sticker: bool = True


# The dated steps of the collection ladder, in their usual order. The call and e-mail on a
# letter's opening are not dated steps: the sticker's event starts them (escalation.py).
STEP_KINDS = ("friendly_email", "letter", "formal_notice", "handoff")
CLAIM_OUTCOMES = ("claimed", "sent", "skipped")
HOLD_KINDS = ("dispute", "pause")


class LadderStep(SQLModel, table=True):
    """One step of a freelancer's ladder, or of the ladder of one of the freelancer's debtors.

    An owner without rows uses ``ladder.DEFAULT_LADDER``. ``debtor_key`` is empty for the
    freelancer's own ladder and the debtor's key (``invoicing.collection_queries``) otherwise.
    """

    __tablename__ = "collection_ladder_steps"
    __table_args__ = (sa.UniqueConstraint("owner_id", "debtor_key", "step", name="uq_ladder_steps_owner_debtor_step"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    debtor_key: str = Field(default="", max_length=210)
    step: str = Field(max_length=20)
    # Calendar days after the invoice's due date.
    delay_days: int
    enabled: bool = True


class StepClaim(SQLModel, table=True):
    """The one time a ladder step happens to an invoice. The unique key makes the claim atomic:
    of two runs or workers inserting the same (invoice, step), exactly one succeeds."""

    __tablename__ = "collection_step_claims"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "step", name="uq_step_claims_invoice_step"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    step: str = Field(max_length=20)
    # The Brussels day of the daily run that claimed the step.
    run_date: date
    status: str = Field(default="claimed", max_length=10)
    reason: str | None = Field(default=None, max_length=40)
    # Balance chased by the step, and for a consumer the last day of the payment period it gave.
    amount: Decimal | None = Field(default=None, sa_type=DecimalAmount)
    pay_by: date | None = None
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DailyRun(SQLModel, table=True):
    """The daily run of one Brussels day; a day without a finished run is caught up later."""

    __tablename__ = "collection_daily_runs"

    id: int | None = Field(default=None, primary_key=True)
    run_date: date = Field(sa_column=sa.Column(sa.Date, unique=True, nullable=False))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    evaluated: int = 0
    sent: int = 0
    skipped: int = 0


class InvoiceHold(SQLModel, table=True):
    """A dispute or a pause that stops the ladder for one invoice until it is lifted or expires."""

    __tablename__ = "collection_holds"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    kind: str = Field(max_length=10)
    reason: str = Field(default="", sa_type=sa.Text)
    # Last Brussels day of a pause; None for a dispute, which lasts until it is lifted.
    until: date | None = None
    # "debtor" (through the signed link of an e-mail) or "freelancer".
    opened_by: str = Field(max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LatePaymentRate(SQLModel, table=True):
    """The Late Payment Act rate of one half-year (law of 2 August 2002, art. 5), editable by staff."""

    __tablename__ = "collection_late_payment_rates"

    id: int | None = Field(default=None, primary_key=True)
    # 1 January or 1 July.
    starts_on: date = Field(sa_column=sa.Column(sa.Date, unique=True, nullable=False))
    # Percent per year, e.g. 10.50.
    rate: Decimal = Field(sa_type=DecimalAmount)
    source: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""Weekly timesheets of a contract, and the invoice drafts that approved weeks become."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.money import DecimalAmount
from backend.core.time import UTCDateTime, utcnow

TIMESHEET_STATUSES = ("draft", "submitted", "approved", "rejected")
INVOICE_DRAFT_STATUSES = ("draft", "issued")


class Timesheet(SQLModel, table=True):
    """The hours of one contract in one week, from Monday to Sunday."""

    __tablename__ = "timesheets"
    __table_args__ = (sa.UniqueConstraint("contract_id", "week_start", name="uq_timesheets_contract_week"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    # The Monday of the week.
    week_start: date
    status: str = Field(default="draft", max_length=10)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    # The client's comment on approval or rejection.
    decision_comment: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TimesheetEntry(SQLModel, table=True):
    __tablename__ = "timesheet_entries"
    __table_args__ = (sa.UniqueConstraint("timesheet_id", "day", name="uq_timesheet_entries_timesheet_day"),)

    id: int | None = Field(default=None, primary_key=True)
    timesheet_id: int = Field(foreign_key="timesheets.id", ondelete="CASCADE", index=True)
    day: date = Field(index=True)
    # Hours worked that day, in quarters of an hour.
    hours: Decimal = Field(sa_type=DecimalAmount)


class InvoiceDraft(SQLModel, table=True):
    """The freelancer's next invoice for a contract, growing by one line per approved week.

    Amounts exclude VAT, which the invoicing engine adds when it issues the invoice.
    """

    __tablename__ = "invoice_drafts"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    freelancer_user_id: int = Field(foreign_key="users.id", index=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    status: str = Field(default="draft", max_length=10)
    currency: str = Field(default="EUR", max_length=3)
    # The issued invoice, once the invoicing engine issued this draft.
    invoice_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InvoiceDraftLine(SQLModel, table=True):
    __tablename__ = "invoice_draft_lines"

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="invoice_drafts.id", ondelete="CASCADE", index=True)
    # One line per approved timesheet, so a week can never be invoiced twice.
    timesheet_id: int = Field(sa_column=sa.Column(sa.ForeignKey("timesheets.id"), unique=True, nullable=False))
    week_start: date
    hours: Decimal = Field(sa_type=DecimalAmount)
    unit_price: Decimal = Field(sa_type=DecimalAmount)
    # hours × unit_price, rounded to the cent.
    amount: Decimal = Field(sa_type=DecimalAmount)

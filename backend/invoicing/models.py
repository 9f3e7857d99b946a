"""Invoices, a snapshot of their two parties, their lines, VAT breakdown and timeline."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.money import DecimalAmount
from backend.core.time import UTCDateTime, utcnow

SOURCES = ("imported", "issued")
STATUSES = ("open", "paid")
LANGUAGE_SOURCES = ("postal_code", "freelancer", "default")
PARTY_ROLES = ("supplier", "customer")


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        # One invoice number per supplier and owner: the series of one supplier is unbroken.
        sa.UniqueConstraint("owner_id", "supplier_key", "number", name="uq_invoices_owner_supplier_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    source: str = Field(max_length=10)
    number: str = Field(max_length=200)
    # The supplier's enterprise number, else its VAT number, else "name:" and its name.
    supplier_key: str = Field(max_length=210)
    issue_date: date
    due_date: date
    currency: str = Field(max_length=3)
    note: str | None = Field(default=None, sa_type=sa.Text)
    buyer_reference: str | None = None
    # The 12 digits, without the +++ signs and slashes.
    structured_communication: str | None = Field(default=None, max_length=12)
    iban: str = Field(max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    payment_terms: str | None = Field(default=None, sa_type=sa.Text)
    line_extension_amount: Decimal = Field(sa_type=DecimalAmount)
    tax_exclusive_amount: Decimal = Field(sa_type=DecimalAmount)
    tax_amount: Decimal = Field(sa_type=DecimalAmount)
    tax_inclusive_amount: Decimal = Field(sa_type=DecimalAmount)
    payable_amount: Decimal = Field(sa_type=DecimalAmount)
    paid_amount: Decimal = Field(default=Decimal("0.00"), sa_type=DecimalAmount)
    status: str = Field(default="open", max_length=10)
    debtor_language: str = Field(max_length=2)
    debtor_language_source: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def amount_due(self) -> Decimal:
        return self.payable_amount - self.paid_amount

    def is_overdue(self, today: date) -> bool:
        return self.status == "open" and self.amount_due > 0 and self.due_date < today


class InvoiceParty(SQLModel, table=True):
    """The supplier or the customer as written on the invoice, kept as it was then."""

    __tablename__ = "invoice_parties"
    __table_args__ = (sa.UniqueConstraint("invoice_id", "role", name="uq_invoice_parties_invoice_role"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=10)
    name: str
    registration_name: str | None = None
    vat_number: str | None = None
    # Ten digits, without dots.
    enterprise_number: str | None = Field(default=None, max_length=10)
    street: str | None = None
    additional_street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    # ISO 3166-1 alpha-2.
    country: str | None = Field(default=None, max_length=2)
    email: str | None = None
    phone: str | None = None
    contact_name: str | None = None


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", ondelete="CASCADE", index=True)
    position: int
    description: str = Field(sa_type=sa.Text)
    quantity: Decimal = Field(sa_type=DecimalAmount(scale=4))
    # UN/ECE recommendation 20 code, e.g. HUR for hours and C62 for units.
    unit_code: str | None = None
    unit_price: Decimal = Field(sa_type=DecimalAmount(scale=4))
    line_amount: Decimal = Field(sa_type=DecimalAmount)
    # UNCL5305 code: S standard, Z zero, E exempt, AE reverse charge, K intra-EU, G export, O outside scope.
    vat_category: str = Field(max_length=2)
    # Percent, e.g. 21.00.
    vat_rate: Decimal | None = Field(default=None, sa_type=DecimalAmount)


class InvoiceTaxSubtotal(SQLModel, table=True):
    __tablename__ = "invoice_tax_subtotals"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", ondelete="CASCADE", index=True)
    category: str = Field(max_length=2)
    rate: Decimal | None = Field(default=None, sa_type=DecimalAmount)
    taxable_amount: Decimal = Field(sa_type=DecimalAmount)
    tax_amount: Decimal = Field(sa_type=DecimalAmount)
    exemption_reason: str | None = Field(default=None, sa_type=sa.Text)


class TimelineEntry(SQLModel, table=True):
    """One event in an invoice's life, written by any domain through ``record_timeline``."""

    __tablename__ = "invoice_timeline"
    __table_args__ = (sa.Index("ix_invoice_timeline_invoice_at", "invoice_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", ondelete="CASCADE")
    kind: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)

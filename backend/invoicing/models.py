"""Invoices and credit notes, a snapshot of their two parties, their lines, VAT breakdown and
timeline; the freelancer's business details, customers and number series."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.money import DecimalAmount
from backend.core.time import UTCDateTime, utcnow

SOURCES = ("imported", "issued")
DOCUMENT_TYPES = ("invoice", "credit_note")
# Invoices go from draft to open, then paid or credited. Credit notes go from draft to issued.
STATUSES = ("draft", "open", "paid", "credited", "issued")
LANGUAGE_SOURCES = ("postal_code", "freelancer", "default")
PARTY_ROLES = ("supplier", "customer")
VAT_REGIMES = ("normal", "small_business")
CUSTOMER_KINDS = ("company", "consumer")


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        # One invoice number per supplier and owner: the series of one supplier is unbroken.
        sa.UniqueConstraint("owner_id", "supplier_key", "number", name="uq_invoices_owner_supplier_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    source: str = Field(max_length=10)
    document_type: str = Field(default="invoice", max_length=12)
    # None while the document is a draft: issuing assigns the next number of the series.
    number: str | None = Field(default=None, max_length=200)
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
    # The part of the payable amount cancelled by issued credit notes.
    credited_amount: Decimal = Field(default=Decimal("0.00"), sa_type=DecimalAmount)
    status: str = Field(default="open", max_length=10)
    debtor_language: str = Field(max_length=2)
    debtor_language_source: str = Field(max_length=12)
    # The customer record a draft was written for; the customer party keeps the details as issued.
    customer_id: int | None = Field(default=None, foreign_key="invoicing_customers.id", index=True)
    # For a credit note: the invoice it corrects (BT-25 and BT-26 in EN 16931).
    credited_invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    billing_reference: str | None = Field(default=None, max_length=200)
    billing_reference_date: date | None = None
    # One of vat.VAT_SCHEMES for documents issued here; None for imported ones.
    vat_scheme: str | None = Field(default=None, max_length=30)
    # Actual delivery date (BT-72), required for intra-Community supplies of goods.
    delivery_date: date | None = None
    payment_terms_days: int | None = None
    # Set when the draft came from a contract's approved timesheets (the timesheets domain's draft).
    contract_id: int | None = Field(default=None, index=True)
    timesheet_draft_id: int | None = Field(default=None)
    # Whether the freelancer chose the platform's debtor management for this invoice.
    debtor_management: bool = False
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == "credit_note"

    @property
    def amount_due(self) -> Decimal:
        """What the customer still owes: nothing on a draft or a credit note."""
        if self.is_draft or self.is_credit_note:
            return Decimal("0.00")
        return self.payable_amount - self.paid_amount - self.credited_amount

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
    # Electronic address (BT-34, BT-49): an EAS scheme such as 0208 and the identifier.
    endpoint_scheme: str | None = Field(default=None, max_length=4)
    endpoint_id: str | None = Field(default=None, max_length=254)


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
    # VATEX code list (CEF), e.g. VATEX-EU-AE for a reverse charge.
    exemption_reason_code: str | None = Field(default=None, max_length=30)


class TimelineEntry(SQLModel, table=True):
    """One event in an invoice's life, written by any domain through ``record_timeline``."""

    __tablename__ = "invoice_timeline"
    __table_args__ = (sa.Index("ix_invoice_timeline_invoice_at", "invoice_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", ondelete="CASCADE")
    kind: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class BusinessProfile(SQLModel, table=True):
    """The freelancer's business details as they appear on every invoice the freelancer issues."""

    __tablename__ = "invoicing_business_profiles"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(sa_column=sa.Column(sa.ForeignKey("users.id"), unique=True, nullable=False))
    name: str = Field(max_length=200)
    # The legal name when it differs from the trading name, legal form included (BV, SRL...).
    registration_name: str | None = Field(default=None, max_length=200)
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=10)
    city: str = Field(max_length=100)
    country: str = Field(default="BE", max_length=2)
    # Ten digits, without dots.
    enterprise_number: str = Field(max_length=10)
    # BE and the ten digits. Small businesses under the exemption scheme have one too.
    vat_number: str | None = Field(default=None, max_length=14)
    vat_regime: str = Field(default="normal", max_length=20)
    iban: str = Field(max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    # Put before the year in every number, so that a second series never meets the first one.
    number_prefix: str = Field(default="", max_length=10)
    payment_terms_days: int = 30
    debtor_management: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Customer(SQLModel, table=True):
    """A customer of the freelancer: a company or a consumer."""

    __tablename__ = "invoicing_customers"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(default="company", max_length=10)
    name: str = Field(max_length=200)
    registration_name: str | None = Field(default=None, max_length=200)
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=10)
    city: str = Field(max_length=100)
    country: str = Field(default="BE", max_length=2)
    # Belgian enterprise number, ten digits.
    enterprise_number: str | None = Field(default=None, max_length=10)
    # Any EU VAT number, country prefix included.
    vat_number: str | None = Field(default=None, max_length=16)
    language: str = Field(default="fr", max_length=2)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    contact_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NumberSequence(SQLModel, table=True):
    """The last number issued in one series: one row per owner, year and series, locked while
    a number is taken so that two issues never get the same number and none is skipped."""

    __tablename__ = "invoicing_number_sequences"
    __table_args__ = (sa.UniqueConstraint("owner_id", "year", "series", name="uq_number_sequences_series"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id")
    year: int
    series: str = Field(max_length=20)
    last_value: int = 0


class PlatformFeeInvoice(SQLModel, table=True):
    """The platform's fee invoice of one month for one freelancer or one client company."""

    __tablename__ = "invoicing_platform_fee_invoices"
    __table_args__ = (
        sa.UniqueConstraint("year", "month", "payer_kind", "payer_id", name="uq_platform_fee_invoices_payer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int
    month: int
    # "freelancer" (a user id) or "client" (a company id).
    payer_kind: str = Field(max_length=10)
    payer_id: int
    invoice_id: int = Field(foreign_key="invoices.id")
    hours: Decimal = Field(sa_type=DecimalAmount)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

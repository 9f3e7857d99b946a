"""Response models of the invoicing JSON API. Amounts are decimal strings, so they stay exact."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from backend.core.time import today_brussels
from backend.invoicing import structured_communication as ogm
from backend.invoicing.service import InvoiceDetail, InvoiceSummary


class PartyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: str
    name: str
    registration_name: str | None
    vat_number: str | None
    enterprise_number: str | None
    street: str | None
    additional_street: str | None
    city: str | None
    postal_code: str | None
    country: str | None
    email: str | None
    phone: str | None
    contact_name: str | None


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    description: str
    quantity: Decimal
    unit_code: str | None
    unit_price: Decimal
    line_amount: Decimal
    vat_category: str
    vat_rate: Decimal | None


class TaxSubtotalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    category: str
    rate: Decimal | None
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption_reason: str | None


class TimelineEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    at: datetime
    data: dict[str, Any]


class InvoiceSummaryOut(BaseModel):
    id: int
    document_type: str
    # None for a draft.
    number: str | None
    debtor_name: str
    issue_date: date
    due_date: date
    currency: str
    payable_amount: Decimal
    paid_amount: Decimal
    amount_due: Decimal
    status: str
    overdue: bool

    @classmethod
    def from_summary(cls, summary: InvoiceSummary) -> InvoiceSummaryOut:
        invoice = summary.invoice
        return cls(
            id=invoice.id, document_type=invoice.document_type, number=invoice.number,
            debtor_name=summary.debtor_name,
            issue_date=invoice.issue_date, due_date=invoice.due_date, currency=invoice.currency,
            payable_amount=invoice.payable_amount, paid_amount=invoice.paid_amount,
            amount_due=invoice.amount_due, status=invoice.status,
            overdue=invoice.is_overdue(today_brussels()),
        )


class InvoiceOut(BaseModel):
    id: int
    source: str
    document_type: str
    # None for a draft.
    number: str | None
    issue_date: date
    due_date: date
    currency: str
    note: str | None
    buyer_reference: str | None
    # Written as +++ddd/dddd/ddddd+++.
    structured_communication: str | None
    iban: str
    bic: str | None
    payment_terms: str | None
    line_extension_amount: Decimal
    tax_exclusive_amount: Decimal
    tax_amount: Decimal
    tax_inclusive_amount: Decimal
    payable_amount: Decimal
    paid_amount: Decimal
    credited_amount: Decimal
    amount_due: Decimal
    status: str
    overdue: bool
    # For a credit note: the number and date of the invoice it corrects.
    billing_reference: str | None
    billing_reference_date: date | None
    debtor_language: str
    debtor_language_source: str
    created_at: datetime
    supplier: PartyOut
    customer: PartyOut
    lines: list[LineOut]
    tax_subtotals: list[TaxSubtotalOut]
    timeline: list[TimelineEntryOut]

    @classmethod
    def from_detail(cls, detail: InvoiceDetail) -> InvoiceOut:
        invoice = detail.invoice
        communication = invoice.structured_communication
        return cls(
            **invoice.model_dump(exclude={"owner_id", "supplier_key", "structured_communication"}),
            structured_communication=ogm.format_digits(communication) if communication else None,
            amount_due=invoice.amount_due,
            overdue=invoice.is_overdue(today_brussels()),
            supplier=PartyOut.model_validate(detail.supplier),
            customer=PartyOut.model_validate(detail.customer),
            lines=[LineOut.model_validate(line) for line in detail.lines],
            tax_subtotals=[TaxSubtotalOut.model_validate(item) for item in detail.tax_subtotals],
            timeline=[TimelineEntryOut.model_validate(entry) for entry in detail.timeline],
        )

"""Invoices as the collection ladder reads them: overdue, with their debtor's key and kind.

Collection reads invoices only through these functions, never through the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from backend.invoicing.models import Customer, Invoice, InvoiceParty


@dataclass(frozen=True)
class OverdueInvoice:
    invoice_id: int
    owner_id: int
    number: str
    due_date: date
    amount_due: Decimal
    # The customer's enterprise number, else VAT number, else "name:" and its name.
    debtor_key: str
    debtor_name: str
    # "company" or "consumer".
    debtor_kind: str


def _debtor_key(enterprise_number: str | None, vat_number: str | None, name: str) -> str:
    return enterprise_number or vat_number or f"name:{name}"


def _kind(customer_kind: str | None, enterprise_number: str | None, vat_number: str | None) -> str:
    """A customer record says it; an imported invoice's customer without enterprise or VAT number is a consumer."""
    if customer_kind is not None:
        return customer_kind
    return "company" if enterprise_number or vat_number else "consumer"


def _any_invoice():
    return (
        sa.select(Invoice.id, Invoice.owner_id, Invoice.number, Invoice.due_date, Invoice.payable_amount,
                  Invoice.paid_amount, Invoice.credited_amount, InvoiceParty.enterprise_number,
                  InvoiceParty.vat_number, InvoiceParty.name, Customer.kind)
        .join(InvoiceParty, sa.and_(InvoiceParty.invoice_id == Invoice.id, InvoiceParty.role == "customer"))
        .outerjoin(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.document_type == "invoice")
    )


def _open_owing():
    amount_due = Invoice.payable_amount - Invoice.paid_amount - Invoice.credited_amount
    return _any_invoice().where(Invoice.status == "open", amount_due > 0)


def _row_to_overdue(row) -> OverdueInvoice:
    return OverdueInvoice(
        invoice_id=row.id, owner_id=row.owner_id, number=row.number, due_date=row.due_date,
        amount_due=row.payable_amount - row.paid_amount - row.credited_amount,
        debtor_key=_debtor_key(row.enterprise_number, row.vat_number, row.name), debtor_name=row.name,
        debtor_kind=_kind(row.kind, row.enterprise_number, row.vat_number),
    )


def overdue_invoices(session: Session, as_of: date, *, after_id: int = 0, limit: int = 1000,
                     managed_only: bool = True, owner_id: int | None = None) -> list[OverdueInvoice]:
    """Return open invoices with an amount due and a due date before ``as_of``, by id, from ``after_id``.

    ``managed_only`` keeps the invoices whose freelancer chose the platform's debtor management.
    """
    statement = _open_owing().where(Invoice.due_date < as_of, Invoice.id > after_id)
    if managed_only:
        statement = statement.where(Invoice.debtor_management.is_(True))
    if owner_id is not None:
        statement = statement.where(Invoice.owner_id == owner_id)
    statement = statement.order_by(Invoice.id).limit(limit)
    return [_row_to_overdue(row) for row in session.execute(statement)]


def lock_invoice_for_collection(session: Session, invoice_id: int, skip_locked: bool) -> OverdueInvoice | None:
    """Return the invoice, still open and owing, with its row locked until commit on PostgreSQL.

    With ``skip_locked`` an invoice that another transaction holds is returned as None, so that
    concurrent runs share the work instead of waiting. SQLite serialises writers instead.
    """
    statement = _open_owing().where(Invoice.id == invoice_id)
    if session.get_bind().dialect.name != "sqlite":
        statement = statement.with_for_update(of=Invoice, skip_locked=skip_locked)
    row = session.execute(statement).first()
    return _row_to_overdue(row) if row is not None else None


def debtor_of(session: Session, invoice_id: int) -> OverdueInvoice | None:
    """Return the invoice with its debtor's key and kind, whatever its status (None if unknown)."""
    row = session.execute(_any_invoice().where(Invoice.id == invoice_id)).first()
    return _row_to_overdue(row) if row is not None else None


def set_debtor_management(session: Session, owner_id: int, invoice_id: int, enabled: bool) -> Invoice:
    """Switch the platform's debtor management on or off for one of the owner's invoices."""
    from backend.invoicing.service import get_owned_invoice, record_timeline

    invoice = get_owned_invoice(session, owner_id, invoice_id)
    if invoice.debtor_management != enabled:
        invoice.debtor_management = enabled
        session.add(invoice)
        record_timeline(session, invoice_id, "debtor_management_on" if enabled else "debtor_management_off")
    session.flush()
    return invoice

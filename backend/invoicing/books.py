"""The sales journal: the issued documents as the books record them.

One journal line per document and VAT (category, rate), from the stored VAT breakdown, so
the books carry the same amounts as the PDF and the UBL file. Invoices count positive and
credit notes negative, as they do in the VAT return (grids 49 and 64 hold credit notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from backend.invoicing.models import Invoice, InvoiceParty, InvoiceTaxSubtotal


@dataclass(frozen=True)
class JournalLine:
    invoice_id: int
    number: str
    document_type: str
    issue_date: date
    customer_name: str
    category: str
    rate: Decimal | None
    # Signed: negative for a credit note.
    taxable_amount: Decimal
    tax_amount: Decimal


def sales_journal(session: Session, owner_id: int, first: date, last: date) -> list[JournalLine]:
    """Return the journal lines of the owner's documents issued between ``first`` and ``last``."""
    query = (
        select(Invoice, InvoiceParty.name, InvoiceTaxSubtotal)
        .join(InvoiceParty, sa.and_(InvoiceParty.invoice_id == Invoice.id, InvoiceParty.role == "customer"))
        .join(InvoiceTaxSubtotal, InvoiceTaxSubtotal.invoice_id == Invoice.id)
        .where(Invoice.owner_id == owner_id, Invoice.source == "issued", Invoice.status != "draft",
               Invoice.issue_date >= first, Invoice.issue_date <= last)
        .order_by(Invoice.issue_date, Invoice.number, InvoiceTaxSubtotal.id)
    )
    lines = []
    for invoice, customer_name, subtotal in session.exec(query):
        sign = -1 if invoice.is_credit_note else 1
        lines.append(JournalLine(
            invoice_id=invoice.id, number=invoice.number, document_type=invoice.document_type,
            issue_date=invoice.issue_date, customer_name=customer_name, category=subtotal.category,
            rate=subtotal.rate, taxable_amount=sign * subtotal.taxable_amount, tax_amount=sign * subtotal.tax_amount,
        ))
    return lines


def document_totals(lines: list[JournalLine], invoice_id: int) -> tuple[Decimal, Decimal]:
    """Return the signed taxable amount and VAT of one document in the journal."""
    own = [line for line in lines if line.invoice_id == invoice_id]
    return (sum((line.taxable_amount for line in own), Decimal("0.00")),
            sum((line.tax_amount for line in own), Decimal("0.00")))

"""An invoice's payment state: the paid amount and the status, changed with a timeline entry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import structlog
from sqlmodel import Session

from backend.core.errors import Conflict, InvalidInput
from backend.invoicing.models import Invoice
from backend.invoicing.service import get_owned_invoice, record_timeline

log = structlog.get_logger(__name__)


class NothingLeftToPay(Conflict):
    message = "Invoice {number} has nothing left to pay."


class InvalidPaymentAmount(InvalidInput):
    message = "A payment must be between 0.01 and the amount due ({amount_due}), not {amount}."


def record_payment(session: Session, owner_id: int, invoice_id: int, amount: Decimal | None,
                   paid_on: date, method: str) -> Invoice:
    """Add a payment to the invoice; ``None`` pays the whole amount due. Paid in full, it becomes "paid".

    The invoice row is updated in the caller's transaction; the caller commits.
    """
    invoice = get_owned_invoice(session, owner_id, invoice_id)
    if invoice.is_credit_note or invoice.is_draft or invoice.status != "open" or invoice.amount_due <= 0:
        raise NothingLeftToPay(number=invoice.number or invoice_id)
    amount = invoice.amount_due if amount is None else amount
    if amount <= 0 or amount > invoice.amount_due or amount != amount.quantize(Decimal("0.01")):
        raise InvalidPaymentAmount(amount=amount, amount_due=invoice.amount_due)

    invoice.paid_amount += amount
    if invoice.amount_due <= 0:
        invoice.status = "paid"
    session.add(invoice)
    record_timeline(session, invoice.id, "payment_recorded", amount=amount, paid_on=paid_on, method=method,
                    amount_due=invoice.amount_due, status=invoice.status)
    log.info("invoice.payment_recorded", invoice_id=invoice.id, amount=str(amount), status=invoice.status)
    return invoice

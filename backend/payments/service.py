"""Payments recorded by hand: a payment stops the ladder and every job still queued for the invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import structlog
from sqlmodel import Session

from backend.invoicing.models import Invoice
from backend.invoicing.payment_state import record_payment
from backend.notifications.call_jobs import cancel_calls_for_invoice
from backend.notifications.service import cancel_jobs_for_invoice

log = structlog.get_logger(__name__)


def record_manual_payment(session: Session, owner_id: int, invoice_id: int, amount: Decimal | None,
                          paid_on: date) -> Invoice:
    """Record a payment the freelancer received; paid in full, every pending job of the invoice is cancelled.

    A partial payment leaves the jobs queued: the ladder chases the rest.
    """
    invoice = record_payment(session, owner_id, invoice_id, amount, paid_on, method="manual")
    if invoice.status == "paid":
        cancelled = cancel_jobs_for_invoice(session, invoice_id, "invoice paid")
        cancelled += cancel_calls_for_invoice(session, invoice_id, "invoice paid")
        log.info("payment.stopped_collection", invoice_id=invoice_id, cancelled_jobs=cancelled)
    return invoice

"""Marking an invoice paid by hand, from the collection pages or the JSON API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.core.time import today_brussels
from backend.payments import service
from backend.web.deps import current_user, db_session
from backend.web.security import flash, verify_csrf

router = APIRouter()


class PaymentIn(BaseModel):
    # None pays the whole amount due.
    amount: Decimal | None = None
    paid_on: date | None = None


class PaymentOut(BaseModel):
    invoice_id: int
    status: str
    paid_amount: Decimal
    amount_due: Decimal


def _amount(raw: str) -> Decimal | None:
    raw = raw.strip().replace(" ", "").replace(",", ".")
    if not raw:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as error:
        raise InvalidInput("Invalid amount: {amount}.", amount=raw) from error


@router.post("/invoices/{invoice_id}/payments", dependencies=[Depends(verify_csrf)])
def record_payment_form(request: Request, invoice_id: int, amount: str = Form(""), paid_on: date | None = Form(None),
                        user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    invoice = service.record_manual_payment(session, user.id, invoice_id, _amount(amount), paid_on or today_brussels())
    gettext = request.state.gettext
    if invoice.status == "paid":
        flash(request, gettext("Invoice {number} is marked as paid. Collection has stopped.").format(number=invoice.number), "success")
    else:
        flash(request, gettext("Payment recorded. The reminders continue for the rest.").format(), "success")
    return RedirectResponse(f"/collection/invoices/{invoice_id}", status_code=303)


@router.post("/api/invoices/{invoice_id}/payments", response_model=PaymentOut, status_code=201,
             dependencies=[Depends(verify_csrf)])
def record_payment_api(invoice_id: int, body: PaymentIn, user: User = Depends(current_user),
                       session: Session = Depends(db_session, scope="function")) -> PaymentOut:
    invoice = service.record_manual_payment(session, user.id, invoice_id, body.amount, body.paid_on or today_brussels())
    return PaymentOut(invoice_id=invoice.id, status=invoice.status, paid_amount=invoice.paid_amount,
                      amount_due=invoice.amount_due)

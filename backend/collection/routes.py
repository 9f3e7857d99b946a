"""Reminder letters on the web: issue one for an invoice, download its PDF, and the JSON API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from backend.accounts.models import User
from backend.collection import service
from backend.collection.letters import letter_filename, render_letter_pdf
from backend.invoicing import service as invoicing
from backend.web.deps import current_user, db_session
from backend.web.security import flash, verify_csrf

router = APIRouter()


class LetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    invoice_id: int
    language: str
    issued_at: datetime
    opened_at: datetime | None
    status: str
    pdf_url: str

    @classmethod
    def from_letter(cls, letter) -> LetterOut:
        return cls.model_validate({**letter.model_dump(), "pdf_url": f"/letters/{letter.id}.pdf"})


@router.post("/invoices/{invoice_id}/letters", dependencies=[Depends(verify_csrf)])
def issue_letter_form(request: Request, invoice_id: int, user: User = Depends(current_user),
                      session: Session = Depends(db_session, scope="function")):
    letter = service.issue_letter(session, user.id, invoice_id)
    message = request.state.gettext(
        "Reminder letter {id} issued. Download it, print it and stick a sticker in the dashed box."
    ).format(id=letter.id)
    flash(request, message, "success")
    return RedirectResponse(f"/invoices/{invoice_id}#letters", status_code=303)


@router.get("/letters/{letter_id}.pdf")
def letter_pdf(letter_id: int, user: User = Depends(current_user),
               session: Session = Depends(db_session, scope="function")) -> Response:
    letter = service.get_owned_letter(session, user.id, letter_id)
    invoice = invoicing.get_invoice(session, letter.invoice_id)
    filename = letter_filename(invoice.number, letter.id)
    return Response(
        render_letter_pdf(session, letter),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


@router.get("/api/invoices/{invoice_id}/letters", response_model=list[LetterOut])
def list_letters_api(invoice_id: int, user: User = Depends(current_user),
                     session: Session = Depends(db_session, scope="function")) -> list[LetterOut]:
    invoicing.get_owned_invoice(session, user.id, invoice_id)
    return [LetterOut.from_letter(letter) for letter in service.letters_for_invoice(session, invoice_id)]


@router.post("/api/invoices/{invoice_id}/letters", response_model=LetterOut, status_code=201,
             dependencies=[Depends(verify_csrf)])
def issue_letter_api(invoice_id: int, user: User = Depends(current_user),
                     session: Session = Depends(db_session, scope="function")) -> LetterOut:
    return LetterOut.from_letter(service.issue_letter(session, user.id, invoice_id))

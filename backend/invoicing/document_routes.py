"""Pages that write, issue, credit and send invoices, and download their PDF and UBL file."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from backend.accounts.models import User
from backend.invoicing import (
    documents,
    drafts,
    issuing,
    parties,
    peppol_export,
    sending,
    service,
    vat,
)
from backend.invoicing.formatting import UNIT_LABELS
from backend.web.deps import current_user, db_session
from backend.web.security import flash, verify_csrf
from backend.web.templating import render

router = APIRouter()

# Empty line rows a form offers below the lines already written.
BLANK_ROWS = 2


def _form_lines(form) -> list[drafts.LineEntry]:
    columns = [form.getlist(name) for name in ("description", "quantity", "unit_price", "unit_code", "vat_rate")]
    rows = max((len(column) for column in columns), default=0)
    padded = [column + [""] * (rows - len(column)) for column in columns]
    return [drafts.LineEntry(description=str(description), quantity=str(quantity), unit_price=str(price),
                             unit_code=str(unit) or "HUR", vat_rate=str(rate) or "21")
            for description, quantity, price, unit, rate in zip(*padded)]


def _form_draft(form) -> drafts.DraftInput:
    customer = str(form.get("customer_id", "")).strip()
    return drafts.DraftInput(
        customer_id=int(customer) if customer.isdigit() else 0,
        lines=_form_lines(form),
        vat_scheme=str(form.get("vat_scheme") or "") or None,
        note=str(form.get("note", "")),
        buyer_reference=str(form.get("buyer_reference", "")),
        payment_terms_days=str(form.get("payment_terms_days", "")).strip() or None,
        delivery_date=str(form.get("delivery_date", "")) or None,
        debtor_management=form.get("debtor_management") == "on",
    )


def _render_form(request: Request, session: Session, user: User, values: drafts.DraftInput, invoice=None):
    profile = parties.get_profile(session, user.id)
    customers = parties.list_customers(session, user.id)
    lines = list(values.lines) + [drafts.LineEntry("", "", "", "HUR", "21") for _ in range(BLANK_ROWS)]
    schemes = ["small_business"] if profile and profile.vat_regime == "small_business" else [
        scheme for scheme in vat.VAT_SCHEMES if scheme != "small_business"]
    return render(request, "invoicing/draft_form.html", values=values, lines=lines, invoice=invoice,
                  profile=profile, customers=customers, schemes=schemes, scheme_labels=vat.SCHEME_LABELS,
                  unit_codes=drafts.UNIT_CODES, unit_labels=UNIT_LABELS, rates=vat.STANDARD_RATES)


@router.get("/invoices/new")
def new_invoice_page(request: Request, customer_id: int | None = None, user: User = Depends(current_user),
                     session: Session = Depends(db_session, scope="function")):
    profile = parties.get_profile(session, user.id)
    if profile is None:
        flash(request, request.state.gettext("Fill in your business details first: they appear on every "
                                             "invoice you issue."), "info")
        return RedirectResponse("/invoicing/profile?next=/invoices/new", status_code=303)
    values = drafts.DraftInput(customer_id=customer_id or 0, lines=[],
                               payment_terms_days=profile.payment_terms_days,
                               debtor_management=profile.debtor_management)
    return _render_form(request, session, user, values)


@router.post("/invoices/drafts", dependencies=[Depends(verify_csrf)])
async def create_draft(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    form = await request.form()
    invoice = drafts.create_draft(session, user.id, _form_draft(form))
    flash(request, request.state.gettext("Draft saved. Check it, then issue it."), "success")
    return RedirectResponse(f"/invoices/{invoice.id}", status_code=303)


@router.get("/invoices/{invoice_id}/edit")
def edit_draft_page(request: Request, invoice_id: int, user: User = Depends(current_user),
                    session: Session = Depends(db_session, scope="function")):
    invoice = service.get_owned_invoice(session, user.id, invoice_id)
    drafts.require_draft(invoice)
    return _render_form(request, session, user, drafts.draft_input(session, invoice), invoice)


@router.post("/invoices/{invoice_id}/edit", dependencies=[Depends(verify_csrf)])
async def update_draft(request: Request, invoice_id: int, user: User = Depends(current_user),
                       session: Session = Depends(db_session, scope="function")):
    form = await request.form()
    drafts.update_draft(session, user.id, invoice_id, _form_draft(form))
    flash(request, request.state.gettext("Draft saved. Check it, then issue it."), "success")
    return RedirectResponse(f"/invoices/{invoice_id}", status_code=303)


@router.post("/invoices/{invoice_id}/delete", dependencies=[Depends(verify_csrf)])
def delete_draft(request: Request, invoice_id: int, user: User = Depends(current_user),
                 session: Session = Depends(db_session, scope="function")):
    drafts.delete_draft(session, user.id, invoice_id)
    flash(request, request.state.gettext("Draft deleted."), "success")
    return RedirectResponse("/invoices", status_code=303)


@router.post("/invoices/{invoice_id}/issue", dependencies=[Depends(verify_csrf)])
def issue_invoice(request: Request, invoice_id: int, user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")):
    invoice = issuing.issue(session, user.id, invoice_id)
    gettext = request.state.gettext
    message = gettext("Credit note {number} issued.") if invoice.is_credit_note else gettext("Invoice {number} issued.")
    flash(request, message.format(number=invoice.number), "success")
    return RedirectResponse(f"/invoices/{invoice_id}", status_code=303)


@router.post("/invoices/{invoice_id}/credit", dependencies=[Depends(verify_csrf)])
def credit_invoice(request: Request, invoice_id: int, user: User = Depends(current_user),
                   session: Session = Depends(db_session, scope="function")):
    credit_note = issuing.create_credit_note(session, user.id, invoice_id)
    flash(request, request.state.gettext("Credit note drafted with the invoice's lines. Lower or remove lines "
                                         "to credit part of it, then issue it."), "success")
    return RedirectResponse(f"/invoices/{credit_note.id}/edit", status_code=303)


@router.post("/invoices/{invoice_id}/send", dependencies=[Depends(verify_csrf)])
def send_invoice(request: Request, invoice_id: int, user: User = Depends(current_user),
                 session: Session = Depends(db_session, scope="function")):
    invoice = sending.request_send(session, user.id, invoice_id)
    flash(request, request.state.gettext("Invoice {number} will be e-mailed to the customer with its PDF and "
                                         "UBL file.").format(number=invoice.number), "success")
    return RedirectResponse(f"/invoices/{invoice_id}", status_code=303)


@router.post("/invoice-drafts/{draft_id}/invoice", dependencies=[Depends(verify_csrf)])
def invoice_from_timesheets(request: Request, draft_id: int, user: User = Depends(current_user),
                            session: Session = Depends(db_session, scope="function")):
    if parties.get_profile(session, user.id) is None:
        flash(request, request.state.gettext("Fill in your business details first: they appear on every "
                                             "invoice you issue."), "info")
        return RedirectResponse("/invoicing/profile", status_code=303)
    result = issuing.create_draft_from_timesheets(session, user, draft_id)
    flash(request, request.state.gettext("Draft saved. Check it, then issue it."), "success")
    return RedirectResponse(f"/invoices/{result.invoice.id}", status_code=303)


@router.get("/invoices/{invoice_id}.pdf")
def invoice_pdf(invoice_id: int, download: bool = False, user: User = Depends(current_user),
                session: Session = Depends(db_session, scope="function")):
    detail = service.get_invoice_detail(session, user.id, invoice_id)
    pdf = documents.render_invoice_pdf(detail)
    disposition = "attachment" if download else "inline"
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{documents.pdf_filename(detail.invoice)}"'})


@router.get("/invoices/{invoice_id}.xml")
def invoice_ubl(invoice_id: int, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    detail = service.get_invoice_detail(session, user.id, invoice_id)
    drafts.require_issued(detail.invoice)
    return Response(peppol_export.export_ubl(detail), media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{peppol_export.ubl_filename(detail.invoice)}"'})

"""Collection pages: the dashboard, one invoice's timeline and actions, the ladder, the day's
print batch, the hand-off export, the debtor's dispute link and the staff's rate table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from backend.accounts.models import User
from backend.collection import dashboard, disputes, handoff, interest, ladder, steps
from backend.collection.letters import render_batch_pdf
from backend.collection.models import STEP_KINDS
from backend.core.errors import Forbidden, InvalidInput, NotFound
from backend.core.time import today_brussels
from backend.invoicing import collection_queries
from backend.invoicing import service as invoicing
from backend.web.i18n import gettext_for
from backend.web.deps import current_user, db_session
from backend.web.security import flash, verify_csrf
from backend.web.templating import render

router = APIRouter()


class NoLettersToday(NotFound):
    message = "No letter was issued on {day}."


@router.get("/collection")
def dashboard_page(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    today = today_brussels()
    return render(request, "collection/dashboard.html", board=dashboard.build_dashboard(session, user.id, today),
                  today=today, buckets=dashboard.AGE_BUCKETS)


@router.get("/collection/invoices/{invoice_id}")
def invoice_page(request: Request, invoice_id: int, user: User = Depends(current_user),
                 session: Session = Depends(db_session, scope="function")):
    today = today_brussels()
    story = dashboard.invoice_story(session, user.id, invoice_id, today)
    return render(request, "collection/invoice.html", story=story, invoice=story.detail.invoice, today=today)


@router.post("/collection/invoices/{invoice_id}/management", dependencies=[Depends(verify_csrf)])
def set_management(request: Request, invoice_id: int, enabled: bool = Form(False), user: User = Depends(current_user),
                   session: Session = Depends(db_session, scope="function")):
    collection_queries.set_debtor_management(session, user.id, invoice_id, enabled)
    return RedirectResponse(f"/collection/invoices/{invoice_id}", status_code=303)


@router.post("/collection/invoices/{invoice_id}/dispute", dependencies=[Depends(verify_csrf)])
def dispute_form(request: Request, invoice_id: int, reason: str = Form(""), user: User = Depends(current_user),
                 session: Session = Depends(db_session, scope="function")):
    invoicing.get_owned_invoice(session, user.id, invoice_id)
    disputes.open_dispute(session, invoice_id, reason, opened_by="freelancer")
    flash(request, request.state.gettext("The invoice is marked as disputed. The reminders are on hold."), "success")
    return RedirectResponse(f"/collection/invoices/{invoice_id}", status_code=303)


@router.post("/collection/invoices/{invoice_id}/pause", dependencies=[Depends(verify_csrf)])
def pause_form(request: Request, invoice_id: int, until: date = Form(...), reason: str = Form(""),
               user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    invoicing.get_owned_invoice(session, user.id, invoice_id)
    disputes.pause(session, invoice_id, until, reason, opened_by="freelancer")
    flash(request, request.state.gettext("The reminders are paused."), "success")
    return RedirectResponse(f"/collection/invoices/{invoice_id}", status_code=303)


@router.post("/collection/invoices/{invoice_id}/holds/{hold_id}/lift", dependencies=[Depends(verify_csrf)])
def lift_form(request: Request, invoice_id: int, hold_id: int, user: User = Depends(current_user),
              session: Session = Depends(db_session, scope="function")):
    invoicing.get_owned_invoice(session, user.id, invoice_id)
    disputes.lift(session, invoice_id, hold_id)
    flash(request, request.state.gettext("The reminders resume."), "success")
    return RedirectResponse(f"/collection/invoices/{invoice_id}", status_code=303)


@router.get("/collection/invoices/{invoice_id}/handoff.zip")
def handoff_zip(invoice_id: int, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")) -> Response:
    invoice = invoicing.get_owned_invoice(session, user.id, invoice_id)
    return Response(handoff.build_export(session, invoice_id), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="collection-file-{invoice.id}.zip"',
        "Cache-Control": "private, no-store"})


@router.get("/collection/letters/batch.pdf")
def letters_batch(day: date | None = None, user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")) -> Response:
    day = day or today_brussels()
    letters = steps.letters_issued_on(session, user.id, day)
    if not letters:
        raise NoLettersToday(day=day.isoformat())
    return Response(render_batch_pdf(session, letters), media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="letters-{day.isoformat()}.pdf"', "Cache-Control": "private, no-store"})


@router.get("/collection/ladder")
def ladder_page(request: Request, debtor: str = "", user: User = Depends(current_user),
                session: Session = Depends(db_session, scope="function")):
    current = {step.step: step for step in ladder.ladder_for(session, user.id, debtor)}
    rows = [current.get(kind, ladder.StepSetting(kind, default.delay_days, enabled=False))
            for kind, default in zip(STEP_KINDS, ladder.DEFAULT_LADDER, strict=True)]
    return render(request, "collection/ladder.html", rows=rows, debtor=debtor,
                  own=bool(debtor) and ladder.has_own_ladder(session, user.id, debtor))


@router.post("/collection/ladder", dependencies=[Depends(verify_csrf)])
async def save_ladder_form(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    form = await request.form()
    debtor = str(form.get("debtor", ""))
    if form.get("reset") and debtor:
        ladder.reset_debtor_ladder(session, user.id, debtor)
    else:
        settings = []
        for kind in STEP_KINDS:
            raw = str(form.get(f"delay_{kind}", "")).strip()
            if not raw.isdigit():
                raise ladder.InvalidStepDelay(maximum=ladder.MAX_DELAY_DAYS)
            settings.append(ladder.StepSetting(kind, int(raw), enabled=form.get(f"enabled_{kind}") == "on"))
        ladder.save_ladder(session, user.id, settings, debtor_key=debtor)
    flash(request, request.state.gettext("Ladder saved."), "success")
    suffix = f"?debtor={quote(debtor)}" if debtor else ""
    return RedirectResponse(f"/collection/ladder{suffix}", status_code=303)


@router.get("/debtor/{token}")
def debtor_page(request: Request, token: str, session: Session = Depends(db_session, scope="function")):
    invoice_id = disputes.invoice_from_token(token)
    contact = invoicing.debtor_contact(session, invoice_id)
    request.state.language = contact.language
    request.state.gettext = gettext_for(contact.language)
    hold = disputes.active_hold(session, invoice_id)
    return render(request, "collection/debtor.html", contact=contact, token=token, hold=hold)


@router.post("/debtor/{token}", dependencies=[Depends(verify_csrf)])
def debtor_action(request: Request, token: str, action: str = Form(...), reason: str = Form(""),
                  until: date | None = Form(None), session: Session = Depends(db_session, scope="function")):
    invoice_id = disputes.invoice_from_token(token)
    if action == "dispute":
        disputes.open_dispute(session, invoice_id, reason, opened_by="debtor")
    elif action == "pause" and until is not None:
        disputes.pause(session, invoice_id, until, reason, opened_by="debtor")
    else:
        raise InvalidInput("Choose to dispute the invoice, or give the date until which you need time.")
    return RedirectResponse(f"/debtor/{token}", status_code=303)


def _require_staff(user: User) -> None:
    # NOTE: accounts has no staff role yet; a user whose role is "staff" edits the rates.
    if user.role != "staff":
        raise Forbidden()


@router.get("/collection/rates")
def rates_page(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    _require_staff(user)
    return render(request, "collection/rates.html", rates=interest.list_rates(session))


@router.post("/collection/rates", dependencies=[Depends(verify_csrf)])
def save_rate_form(request: Request, starts_on: date = Form(...), rate: str = Form(...), source: str = Form(""),
                   user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    _require_staff(user)
    try:
        value = Decimal(rate.replace(",", "."))
    except InvalidOperation as error:
        raise InvalidInput("Invalid rate: {rate}.", rate=rate) from error
    interest.save_rate(session, starts_on, value, source.strip())
    return RedirectResponse("/collection/rates", status_code=303)

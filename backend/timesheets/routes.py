"""Pages and JSON API of timesheets and invoice drafts."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.marketplace.labels import gettext_noop
from backend.marketplace.views import Transaction, done
from backend.timesheets import service
from backend.timesheets.schemas import (
    DayOut,
    DecisionIn,
    InvoiceDraftLineOut,
    InvoiceDraftOut,
    WeekHoursIn,
    WeekOut,
)
from backend.web.deps import current_user
from backend.web.security import verify_csrf
from backend.web.templating import render

router = APIRouter()

STATUS_LABELS = {
    "draft": gettext_noop("Not submitted"),
    "submitted": gettext_noop("Waiting for approval"),
    "approved": gettext_noop("Approved"),
    "rejected": gettext_noop("Rejected"),
}


def _week_url(contract_id: int, week_start: date) -> str:
    return f"/timesheets/{contract_id}/{week_start.isoformat()}"


@router.get("/timesheets", include_in_schema=False)
def timesheets_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    summaries = service.week_summaries(session, user)
    return render(request, "timesheets/overview.html", summaries=summaries, status_labels=STATUS_LABELS,
                  to_approve=[summary for summary in summaries if summary.status == "submitted"])


@router.get("/timesheets/{contract_id}/{week_start}", include_in_schema=False)
def week_page(request: Request, contract_id: int, week_start: date, user: User = Depends(current_user),
              session: Session = Transaction):
    week = service.get_week(session, user, contract_id, week_start)
    weeks = service.contract_weeks(week.contract)
    position = weeks.index(week_start)
    return render(request, "timesheets/week.html", week=week, status_labels=STATUS_LABELS,
                  previous_week=weeks[position - 1] if position > 0 else None,
                  next_week=weeks[position + 1] if position + 1 < len(weeks) else None)


@router.post("/timesheets/{contract_id}/{week_start}", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def save_week(request: Request, contract_id: int, week_start: date, hours: list[str] = Form([]),
              action: str = Form("save"), user: User = Depends(current_user), session: Session = Transaction):
    """Save the seven days' hours, Monday first, and submit the week if asked."""
    days = service.week_days(week_start)
    if len(hours) != len(days):
        raise InvalidInput("Write the hours of each day of the week, Monday to Sunday.")
    service.save_hours(session, user, contract_id, week_start,
                       {day: service.parse_hours(value) for day, value in zip(days, hours)})
    if action == "submit":
        service.submit_week(session, user, contract_id, week_start)
        return done(request, "The week is sent to the client for approval.", _week_url(contract_id, week_start))
    return done(request, "Hours saved.", _week_url(contract_id, week_start))


@router.post("/timesheets/{contract_id}/{week_start}/approve", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def approve(request: Request, contract_id: int, week_start: date, comment: str = Form(""),
            user: User = Depends(current_user), session: Session = Transaction):
    service.approve_week(session, user, contract_id, week_start, comment)
    return done(request, "Hours approved. They are added to the freelancer's next invoice.", "/timesheets")


@router.post("/timesheets/{contract_id}/{week_start}/reject", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def reject(request: Request, contract_id: int, week_start: date, comment: str = Form(""),
           user: User = Depends(current_user), session: Session = Transaction):
    service.reject_week(session, user, contract_id, week_start, comment)
    return done(request, "Hours rejected. The freelancer can correct them.", "/timesheets")


@router.get("/invoice-drafts", include_in_schema=False)
def drafts_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    return render(request, "timesheets/drafts.html", drafts=service.invoice_drafts_for_user(session, user))


@router.get("/invoice-drafts/{draft_id}", include_in_schema=False)
def draft_page(request: Request, draft_id: int, user: User = Depends(current_user),
               session: Session = Transaction):
    return render(request, "timesheets/draft.html", view=service.get_invoice_draft(session, user, draft_id))


def _week_out(week: service.WeekView) -> WeekOut:
    return WeekOut(contract_id=week.contract.id, week_start=week.week_start, status=week.status,
                   total_hours=week.total,
                   decision_comment=week.timesheet.decision_comment if week.timesheet else "",
                   days=[DayOut(day=day.day, hours=day.hours, in_contract=day.in_contract) for day in week.days])


def _draft_out(view: service.DraftView) -> InvoiceDraftOut:
    return InvoiceDraftOut(
        id=view.draft.id, contract_id=view.contract.id, mission_title=view.contract.mission_title,
        client_name=view.contract.client_name, status=view.draft.status, currency=view.draft.currency,
        total_hours=view.total_hours, total=view.total,
        lines=[InvoiceDraftLineOut(week_start=line.week_start, hours=line.hours, unit_price=line.unit_price,
                                   amount=line.amount) for line in view.lines])


@router.get("/api/timesheets/{contract_id}/{week_start}", response_model=WeekOut, tags=["timesheets"])
def get_week(contract_id: int, week_start: date, user: User = Depends(current_user),
             session: Session = Transaction) -> WeekOut:
    return _week_out(service.get_week(session, user, contract_id, week_start))


@router.put("/api/timesheets/{contract_id}/{week_start}", response_model=WeekOut, tags=["timesheets"],
            dependencies=[Depends(verify_csrf)])
def put_week(contract_id: int, week_start: date, body: WeekHoursIn, user: User = Depends(current_user),
             session: Session = Transaction) -> WeekOut:
    """Replace the week's hours; days left out have no hours."""
    hours = {day: body.hours.get(day, 0) for day in service.week_days(week_start)}
    extra = set(body.hours) - set(hours)
    if extra:
        raise InvalidInput("The day {day} is not in this week.", day=min(extra).isoformat())
    parsed = {day: service.parse_hours(value) for day, value in hours.items()}
    return _week_out(service.save_hours(session, user, contract_id, week_start, parsed))


@router.post("/api/timesheets/{contract_id}/{week_start}/submit", response_model=WeekOut, tags=["timesheets"],
             dependencies=[Depends(verify_csrf)])
def submit_week(contract_id: int, week_start: date, user: User = Depends(current_user),
                session: Session = Transaction) -> WeekOut:
    return _week_out(service.submit_week(session, user, contract_id, week_start))


@router.post("/api/timesheets/{contract_id}/{week_start}/approve", response_model=WeekOut, tags=["timesheets"],
             dependencies=[Depends(verify_csrf)])
def approve_week(contract_id: int, week_start: date, body: DecisionIn, user: User = Depends(current_user),
                 session: Session = Transaction) -> WeekOut:
    return _week_out(service.approve_week(session, user, contract_id, week_start, body.comment))


@router.post("/api/timesheets/{contract_id}/{week_start}/reject", response_model=WeekOut, tags=["timesheets"],
             dependencies=[Depends(verify_csrf)])
def reject_week(contract_id: int, week_start: date, body: DecisionIn, user: User = Depends(current_user),
                session: Session = Transaction) -> WeekOut:
    return _week_out(service.reject_week(session, user, contract_id, week_start, body.comment))


@router.get("/api/invoice-drafts", response_model=list[InvoiceDraftOut], tags=["timesheets"])
def list_drafts(user: User = Depends(current_user), session: Session = Transaction) -> list[InvoiceDraftOut]:
    return [_draft_out(view) for view in service.invoice_drafts_for_user(session, user)]

"""Timesheets: the freelancer enters hours per day and submits a week, which the client
approves or rejects. An approved week becomes a line of the freelancer's invoice draft."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import structlog
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.contracts import service as contracts
from backend.contracts.models import Contract
from backend.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.core.money import round_cents
from backend.core.settings import Settings
from backend.core.time import utcnow
from backend.marketplace import notices
from backend.timesheets.models import InvoiceDraft, InvoiceDraftLine, Timesheet, TimesheetEntry

log = structlog.get_logger(__name__)

MAX_HOURS_PER_DAY = Decimal(24)
# Hours are entered in quarters of an hour.
HOURS_STEP = Decimal("0.25")
EDITABLE_STATUSES = frozenset({"draft", "rejected"})
MAX_COMMENT_LENGTH = 2000


class ContractNotSigned(Conflict):
    message = "Hours can be entered only once both parties have accepted the contract."


class WeekOutsideContract(InvalidInput):
    message = "The week of {week} is outside the contract period."


class NotAMonday(InvalidInput):
    message = "A week starts on a Monday: {day} is not one."


class TimesheetNotEditable(Conflict):
    message = "This week was submitted or approved, so its hours can no longer change."


class TimesheetNotSubmitted(Conflict):
    message = "This week is not waiting for approval."


class FreelancerOnlyTimesheet(Forbidden):
    message = "Only the freelancer enters and submits hours."


class ClientOnlyApproval(Forbidden):
    message = "Only the client approves or rejects hours."


class InvoiceDraftNotFound(NotFound):
    message = "Invoice draft {draft_id} not found."


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def check_monday(day: date) -> date:
    if day.weekday() != 0:
        raise NotAMonday(day=day.isoformat())
    return day


def week_days(week_start: date) -> list[date]:
    return [week_start + timedelta(days=offset) for offset in range(7)]


def contract_weeks(contract: Contract) -> list[date]:
    """Return the Monday of every week that has at least one day of the contract period."""
    weeks = []
    monday = monday_of(contract.start_date)
    while monday <= contract.end_date:
        weeks.append(monday)
        monday += timedelta(weeks=1)
    return weeks


def parse_hours(raw: str | Decimal | None) -> Decimal:
    """Parse hours such as "7.5" or "7,5"; an empty field is 0. Quarters of an hour only."""
    text = "" if raw is None else str(raw).strip().replace(",", ".")
    if not text:
        return Decimal("0.00")
    try:
        hours = Decimal(text)
    except ArithmeticError:
        raise InvalidInput("Invalid number of hours {value}: write hours such as 7.5.", value=raw) from None
    if not hours.is_finite() or hours < 0 or hours > MAX_HOURS_PER_DAY or hours % HOURS_STEP != 0:
        raise InvalidInput("Invalid number of hours {value}: write 0 to 24 hours, in quarters of an hour.",
                           value=raw)
    return hours.quantize(Decimal("0.01"))


@dataclass
class DayHours:
    day: date
    hours: Decimal
    in_contract: bool


@dataclass
class WeekView:
    contract: Contract
    party: str
    week_start: date
    timesheet: Timesheet | None
    days: list[DayHours]

    @property
    def total(self) -> Decimal:
        return sum((day.hours for day in self.days), Decimal("0.00"))

    @property
    def status(self) -> str:
        return self.timesheet.status if self.timesheet else "draft"

    @property
    def editable(self) -> bool:
        return self.party == "freelancer" and self.status in EDITABLE_STATUSES


def _find(session: Session, contract_id: int, week_start: date) -> Timesheet | None:
    return session.exec(select(Timesheet).where(Timesheet.contract_id == contract_id,
                                                Timesheet.week_start == week_start)).first()


def _entries(session: Session, timesheet_id: int) -> dict[date, Decimal]:
    rows = session.exec(select(TimesheetEntry).where(TimesheetEntry.timesheet_id == timesheet_id)).all()
    return {entry.day: entry.hours for entry in rows}


def _signed_contract(session: Session, user: User, contract_id: int, week_start: date) -> tuple[Contract, str]:
    contract, party = contracts.get_contract(session, user, contract_id)
    if contract.status != "signed":
        raise ContractNotSigned()
    check_monday(week_start)
    if week_start not in contract_weeks(contract):
        raise WeekOutsideContract(week=week_start.isoformat())
    return contract, party


def get_week(session: Session, user: User, contract_id: int, week_start: date) -> WeekView:
    """Return a week of a signed contract. The client sees the hours once the week is submitted."""
    contract, party = _signed_contract(session, user, contract_id, week_start)
    timesheet = _find(session, contract.id, week_start)
    hidden = timesheet is None or (party == "client" and timesheet.status == "draft")
    entries = {} if hidden else _entries(session, timesheet.id)
    days = [DayHours(day, entries.get(day, Decimal("0.00")), contract.start_date <= day <= contract.end_date)
            for day in week_days(week_start)]
    return WeekView(contract, party, week_start, timesheet, days)


def save_hours(session: Session, user: User, contract_id: int, week_start: date,
               hours: dict[date, Decimal]) -> WeekView:
    """Store the freelancer's hours for each day of the week; a rejected week becomes a draft again."""
    contract, party = _signed_contract(session, user, contract_id, week_start)
    if party != "freelancer":
        raise FreelancerOnlyTimesheet()
    timesheet = _find(session, contract.id, week_start)
    if timesheet is not None and timesheet.status not in EDITABLE_STATUSES:
        raise TimesheetNotEditable()
    for day, value in hours.items():
        if day not in week_days(week_start):
            raise InvalidInput("The day {day} is not in this week.", day=day.isoformat())
        if value and not contract.start_date <= day <= contract.end_date:
            raise WeekOutsideContract(week=day.isoformat())

    if timesheet is None:
        timesheet = Timesheet(contract_id=contract.id, week_start=week_start)
    timesheet.status = "draft"
    session.add(timesheet)
    session.flush()
    existing = {entry.day: entry for entry in session.exec(
        select(TimesheetEntry).where(TimesheetEntry.timesheet_id == timesheet.id)).all()}
    for day, value in hours.items():
        entry = existing.get(day)
        if entry is None and value:
            session.add(TimesheetEntry(timesheet_id=timesheet.id, day=day, hours=value))
        elif entry is not None and value:
            entry.hours = value
            session.add(entry)
        elif entry is not None:
            session.delete(entry)
    session.flush()
    return get_week(session, user, contract_id, week_start)


def submit_week(session: Session, user: User, contract_id: int, week_start: date) -> WeekView:
    """Send the week to the client for approval."""
    contract, party = _signed_contract(session, user, contract_id, week_start)
    if party != "freelancer":
        raise FreelancerOnlyTimesheet()
    timesheet = _find(session, contract.id, week_start)
    if timesheet is None or not _entries(session, timesheet.id):
        raise InvalidInput("Enter the hours of at least one day before submitting the week.")
    if timesheet.status not in EDITABLE_STATUSES:
        raise TimesheetNotEditable()

    timesheet.status = "submitted"
    timesheet.submitted_at = utcnow()
    timesheet.decided_at, timesheet.decided_by = None, None
    session.add(timesheet)
    notices.notify(session, contracts.party_user_ids(session, contract, "client"), "timesheet_to_approve",
                   _week_link(contract.id, week_start), freelancer=contract.freelancer_name,
                   mission=contract.mission_title, week=week_start)
    log.info("timesheet.submitted", timesheet_id=timesheet.id, contract_id=contract.id)
    return get_week(session, user, contract_id, week_start)


def _client_decision(session: Session, user: User, contract_id: int, week_start: date,
                     comment: str) -> tuple[Contract, Timesheet, str]:
    contract, party = _signed_contract(session, user, contract_id, week_start)
    if party != "client":
        raise ClientOnlyApproval()
    timesheet = _find(session, contract.id, week_start)
    if timesheet is None or timesheet.status != "submitted":
        raise TimesheetNotSubmitted()
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidInput("The comment is too long: write at most {maximum} characters.",
                           maximum=MAX_COMMENT_LENGTH)
    return contract, timesheet, comment


def approve_week(session: Session, user: User, contract_id: int, week_start: date, comment: str = "") -> WeekView:
    """Approve a submitted week and add its hours, at the contract's rate, to the invoice draft."""
    contract, timesheet, comment = _client_decision(session, user, contract_id, week_start, comment)
    timesheet.status = "approved"
    timesheet.decided_at = utcnow()
    timesheet.decided_by = user.id
    timesheet.decision_comment = comment
    session.add(timesheet)

    hours = sum(_entries(session, timesheet.id).values(), Decimal("0.00"))
    draft = _open_draft(session, contract)
    session.add(InvoiceDraftLine(draft_id=draft.id, timesheet_id=timesheet.id, week_start=week_start, hours=hours,
                                 unit_price=contract.hourly_rate, amount=round_cents(hours * contract.hourly_rate)))
    draft.updated_at = utcnow()
    session.add(draft)
    session.flush()
    notices.notify(session, [contract.freelancer_user_id], "timesheet_approved", f"/invoice-drafts/{draft.id}",
                   mission=contract.mission_title, week=week_start)
    log.info("timesheet.approved", timesheet_id=timesheet.id, contract_id=contract.id, draft_id=draft.id)
    return get_week(session, user, contract_id, week_start)


def reject_week(session: Session, user: User, contract_id: int, week_start: date, comment: str) -> WeekView:
    """Send a submitted week back to the freelancer with the reason."""
    contract, timesheet, comment = _client_decision(session, user, contract_id, week_start, comment)
    if not comment:
        raise InvalidInput("Write why you reject these hours, so the freelancer can correct them.")
    timesheet.status = "rejected"
    timesheet.decided_at = utcnow()
    timesheet.decided_by = user.id
    timesheet.decision_comment = comment
    session.add(timesheet)
    notices.notify(session, [contract.freelancer_user_id], "timesheet_rejected",
                   _week_link(contract.id, week_start), mission=contract.mission_title, week=week_start,
                   comment=comment)
    log.info("timesheet.rejected", timesheet_id=timesheet.id, contract_id=contract.id)
    return get_week(session, user, contract_id, week_start)


def _week_link(contract_id: int, week_start: date) -> str:
    return f"/timesheets/{contract_id}/{week_start.isoformat()}"


def _open_draft(session: Session, contract: Contract) -> InvoiceDraft:
    draft = session.exec(select(InvoiceDraft).where(InvoiceDraft.contract_id == contract.id,
                                                    InvoiceDraft.status == "draft")).first()
    if draft is None:
        draft = InvoiceDraft(contract_id=contract.id, freelancer_user_id=contract.freelancer_user_id,
                             company_id=contract.company_id)
        session.add(draft)
        session.flush()
    return draft


# Overviews


@dataclass
class WeekSummary:
    contract: Contract
    week_start: date
    status: str
    hours: Decimal


def week_summaries(session: Session, user: User) -> list[WeekSummary]:
    """Return every week of the user's signed contracts, newest first.

    The freelancer gets all weeks; the client gets the weeks submitted, approved or rejected.
    """
    signed = contracts.signed_contracts_for_user(session, user)
    if not signed:
        return []
    by_id = {contract.id: contract for contract in signed}
    sheets = {(sheet.contract_id, sheet.week_start): sheet for sheet in session.exec(
        select(Timesheet).where(Timesheet.contract_id.in_(list(by_id)))).all()}
    totals: dict[int, Decimal] = {}
    entries = select(TimesheetEntry).where(TimesheetEntry.timesheet_id.in_([sheet.id for sheet in sheets.values()]))
    for entry in session.exec(entries).all():
        totals[entry.timesheet_id] = totals.get(entry.timesheet_id, Decimal("0.00")) + entry.hours

    summaries = []
    for contract in signed:
        for week_start in contract_weeks(contract):
            sheet = sheets.get((contract.id, week_start))
            status = sheet.status if sheet else "draft"
            if user.role == "client" and status == "draft":
                continue
            hours = totals.get(sheet.id, Decimal("0.00")) if sheet else Decimal("0.00")
            summaries.append(WeekSummary(contract, week_start, status, hours))
    summaries.sort(key=lambda summary: (summary.week_start, summary.contract.id), reverse=True)
    return summaries


@dataclass
class DraftView:
    draft: InvoiceDraft
    contract: Contract
    lines: list[InvoiceDraftLine]

    @property
    def total_hours(self) -> Decimal:
        return sum((line.hours for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def invoice_drafts_for_user(session: Session, user: User) -> list[DraftView]:
    """Return the freelancer's invoice drafts, newest first; clients have none."""
    drafts = list(session.exec(select(InvoiceDraft).where(InvoiceDraft.freelancer_user_id == user.id)
                               .order_by(InvoiceDraft.id.desc())).all())
    return _draft_views(session, drafts)


def get_invoice_draft(session: Session, user: User, draft_id: int) -> DraftView:
    draft = session.get(InvoiceDraft, draft_id)
    if draft is None or draft.freelancer_user_id != user.id:
        raise InvoiceDraftNotFound(draft_id=draft_id)
    return _draft_views(session, [draft])[0]


def _draft_views(session: Session, drafts: list[InvoiceDraft]) -> list[DraftView]:
    if not drafts:
        return []
    lines: dict[int, list[InvoiceDraftLine]] = {draft.id: [] for draft in drafts}
    for line in session.exec(select(InvoiceDraftLine).where(InvoiceDraftLine.draft_id.in_(list(lines)))
                             .order_by(InvoiceDraftLine.week_start)).all():
        lines[line.draft_id].append(line)
    by_contract = contracts.contracts_by_id(session, [draft.contract_id for draft in drafts])
    return [DraftView(draft, by_contract[draft.contract_id], lines[draft.id]) for draft in drafts]


def mark_draft_issued(session: Session, draft_id: int, invoice_id: int) -> InvoiceDraft:
    """Record that the invoicing engine issued the draft as ``invoice_id``; later weeks start a new draft."""
    draft = session.get(InvoiceDraft, draft_id)
    if draft is None:
        raise InvoiceDraftNotFound(draft_id=draft_id)
    if draft.status != "draft":
        raise Conflict("Invoice draft {draft_id} was already issued.", draft_id=draft_id)
    draft.status = "issued"
    draft.invoice_id = invoice_id
    draft.updated_at = utcnow()
    session.add(draft)
    return draft


# Platform fees


@dataclass(frozen=True)
class ContractMonthHours:
    contract_id: int
    company_id: int
    freelancer_user_id: int
    hours: Decimal
    debtor_management: bool


def approved_hours_for_month(session: Session, year: int, month: int) -> list[ContractMonthHours]:
    """Return, per contract, the approved hours worked on days of the month, with whether
    the freelancer chose debtor management. A week across two months counts in both, day by day."""
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    query = (
        select(Timesheet.contract_id, TimesheetEntry.hours)
        .join(TimesheetEntry, TimesheetEntry.timesheet_id == Timesheet.id)
        .where(Timesheet.status == "approved", TimesheetEntry.day >= first, TimesheetEntry.day <= last)
    )
    hours: dict[int, Decimal] = {}
    for contract_id, day_hours in session.exec(query).all():
        hours[contract_id] = hours.get(contract_id, Decimal("0.00")) + day_hours
    by_id = contracts.contracts_by_id(session, list(hours))
    return [
        ContractMonthHours(contract_id=contract_id, company_id=by_id[contract_id].company_id,
                           freelancer_user_id=by_id[contract_id].freelancer_user_id, hours=hours[contract_id],
                           debtor_management=by_id[contract_id].debtor_management)
        for contract_id in sorted(hours)
    ]


@dataclass(frozen=True)
class PlatformFees:
    freelancer: Decimal
    client: Decimal


def platform_fees(hours: Decimal, debtor_management: bool, settings: Settings) -> PlatformFees:
    """Return the platform's fees for approved hours, excluding VAT, rounded to the cent."""
    freelancer_rate = settings.platform_fee_freelancer_per_hour
    if debtor_management:
        freelancer_rate += settings.platform_fee_debtor_management_per_hour
    return PlatformFees(freelancer=round_cents(hours * freelancer_rate),
                        client=round_cents(hours * settings.platform_fee_client_per_hour))

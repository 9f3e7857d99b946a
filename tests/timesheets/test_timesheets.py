from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from backend.contracts import service as contracts
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.errors import InvalidInput
from backend.core.settings import Settings
from backend.core.time import today_brussels
from backend.timesheets import service
from tests.marketplace.factories import hire_for


def signed_contract(session, *, start, weeks=4, rate="80.00"):
    client, freelancer, contract = hire_for(session, start=start, weeks=weeks, rate=rate)
    contracts.accept(session, client, contract.id, ip_address="192.0.2.1")
    contracts.accept(session, freelancer, contract.id, ip_address="192.0.2.2")
    return client, freelancer, contract


def monday_in_future(days=14):
    start = today_brussels() + timedelta(days=days)
    return start - timedelta(days=start.weekday())


def week_hours(monday, values):
    return {monday + timedelta(days=offset): Decimal(value) for offset, value in enumerate(values)}


@pytest.mark.parametrize(("raw", "expected"), [
    ("8", Decimal("8.00")), ("7,5", Decimal("7.50")), ("7.75", Decimal("7.75")), ("", Decimal("0.00")),
    (" 0 ", Decimal("0.00")), ("24", Decimal("24.00")),
])
def test_parse_hours_accepts_quarters(raw, expected):
    assert service.parse_hours(raw) == expected


@pytest.mark.parametrize("raw", ["7.1", "-1", "24.25", "abc", "NaN", "1e3"])
def test_parse_hours_rejects(raw):
    with pytest.raises(InvalidInput):
        service.parse_hours(raw)


def test_hours_need_a_signed_contract(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        start = monday_in_future()
        _, freelancer, contract = hire_for(session, start=start)
        with pytest.raises(service.ContractNotSigned):
            service.save_hours(session, freelancer, contract.id, start, week_hours(start, ["8"]))


def test_submitted_week_is_locked_until_rejected(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        start = monday_in_future()
        client, freelancer, contract = signed_contract(session, start=start)
        service.save_hours(session, freelancer, contract.id, start, week_hours(start, ["8", "8"]))
        service.submit_week(session, freelancer, contract.id, start)

        with pytest.raises(service.TimesheetNotEditable):
            service.save_hours(session, freelancer, contract.id, start, week_hours(start, ["9"]))
        with pytest.raises(service.ClientOnlyApproval):
            service.approve_week(session, freelancer, contract.id, start)
        with pytest.raises(InvalidInput):
            service.reject_week(session, client, contract.id, start, "  ")
        week = service.reject_week(session, client, contract.id, start, "Tuesday was a holiday.")
        assert week.status == "rejected"

        week = service.save_hours(session, freelancer, contract.id, start, week_hours(start, ["8", "0"]))
        assert week.status == "draft"
        assert week.total == Decimal("8.00")


def test_client_sees_hours_only_once_submitted(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        start = monday_in_future()
        client, freelancer, contract = signed_contract(session, start=start)
        service.save_hours(session, freelancer, contract.id, start, week_hours(start, ["8"]))

        assert service.get_week(session, client, contract.id, start).total == Decimal("0.00")
        assert service.week_summaries(session, client) == []
        service.submit_week(session, freelancer, contract.id, start)
        assert service.get_week(session, client, contract.id, start).total == Decimal("8.00")
        assert [summary.status for summary in service.week_summaries(session, client)] == ["submitted"]


def test_days_outside_contract_refused(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        start = monday_in_future() + timedelta(days=2)  # the contract starts on a Wednesday
        _, freelancer, contract = signed_contract(session, start=start)
        monday = start - timedelta(days=2)
        with pytest.raises(service.WeekOutsideContract):
            service.save_hours(session, freelancer, contract.id, monday, week_hours(monday, ["8"]))
        with pytest.raises(service.NotAMonday):
            service.get_week(session, freelancer, contract.id, start)
        week = service.save_hours(session, freelancer, contract.id, monday, week_hours(monday, ["0", "0", "8"]))
        assert [day.in_contract for day in week.days][:3] == [False, False, True]


def test_approved_weeks_add_lines_to_one_draft(database_url):
    with session_scope(core_db.get_engine(database_url)) as session:
        start = monday_in_future()
        client, freelancer, contract = signed_contract(session, start=start, rate="87.35")
        second = start + timedelta(weeks=1)
        for monday, values in ((start, ["8", "8", "7.5", "8", "6.25"]), (second, ["7.75"])):
            service.save_hours(session, freelancer, contract.id, monday, week_hours(monday, values))
            service.submit_week(session, freelancer, contract.id, monday)
            service.approve_week(session, client, contract.id, monday)

        drafts = service.invoice_drafts_for_user(session, freelancer)
        assert len(drafts) == 1
        draft = drafts[0]
        # 37.75 h × 87.35 € = 3,297.4625 €, rounded half up to 3,297.46 €; 7.75 h × 87.35 € = 676.9625 €.
        assert [(line.hours, line.amount) for line in draft.lines] == [
            (Decimal("37.75"), Decimal("3297.46")), (Decimal("7.75"), Decimal("676.96"))]
        assert draft.total == Decimal("3974.42")
        assert service.invoice_drafts_for_user(session, client) == []

        service.mark_draft_issued(session, draft.draft.id, invoice_id=41)
        third = start + timedelta(weeks=2)
        service.save_hours(session, freelancer, contract.id, third, week_hours(third, ["1"]))
        service.submit_week(session, freelancer, contract.id, third)
        service.approve_week(session, client, contract.id, third)
        assert len(service.invoice_drafts_for_user(session, freelancer)) == 2


def test_month_hours_split_week_by_day(database_url):
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        # A week from Monday 28 to Sunday 3 spans two months; find one in the future.
        monday = monday_in_future()
        while (monday + timedelta(days=6)).month == monday.month:
            monday += timedelta(weeks=1)
        client, freelancer, contract = signed_contract(session, start=monday, weeks=2)
        service.save_hours(session, freelancer, contract.id, monday, week_hours(monday, ["8"] * 5))
        service.submit_week(session, freelancer, contract.id, monday)
        service.approve_week(session, client, contract.id, monday)
        contract_id = contract.id
        days_in_first_month = sum(1 for offset in range(5) if (monday + timedelta(days=offset)).month == monday.month)
        later = monday + timedelta(days=6)

    with session_scope(engine) as session:
        first = service.approved_hours_for_month(session, monday.year, monday.month)
        second = service.approved_hours_for_month(session, later.year, later.month)

    assert [(row.contract_id, row.hours) for row in first] == [(contract_id, Decimal(8 * days_in_first_month))]
    expected_second = [(contract_id, Decimal(8 * (5 - days_in_first_month)))] if days_in_first_month < 5 else []
    assert [(row.contract_id, row.hours) for row in second] == expected_second
    assert first[0].debtor_management is False


def test_month_hours_skip_unapproved_weeks(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        start = monday_in_future()
        _, freelancer, contract = signed_contract(session, start=start)
        service.save_hours(session, freelancer, contract.id, start, week_hours(start, ["8"]))
        service.submit_week(session, freelancer, contract.id, start)
        assert service.approved_hours_for_month(session, start.year, start.month) == []


@pytest.mark.parametrize(("hours", "debtor_management", "freelancer_fee", "client_fee"), [
    ("38", False, "95.00", "95.00"),
    ("38", True, "171.00", "95.00"),
    ("7.25", True, "32.63", "18.13"),
])
def test_platform_fees(hours, debtor_management, freelancer_fee, client_fee, tmp_path):
    settings = Settings(environment="test", data_dir=tmp_path)
    fees = service.platform_fees(Decimal(hours), debtor_management, settings)
    assert fees == service.PlatformFees(freelancer=Decimal(freelancer_fee), client=Decimal(client_fee))


def test_fee_settings_are_decimal(tmp_path):
    settings = Settings(environment="test", data_dir=tmp_path)
    assert settings.platform_fee_freelancer_per_hour == Decimal("2.50")
    assert settings.platform_fee_client_per_hour == Decimal("2.50")
    assert settings.platform_fee_debtor_management_per_hour == Decimal("2.00")

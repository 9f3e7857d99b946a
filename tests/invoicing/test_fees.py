"""The platform's monthly fee invoices, and invoices drafted from approved timesheets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.contracts import service as contracts
from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.invoicing import fees, issuing, parties, peppol_validation, service
from backend.invoicing.models import Invoice, InvoiceLine
from backend.invoicing.peppol_export import export_ubl
from backend.timesheets import service as timesheets
from tests.invoicing import factories
from tests.invoicing.factories import lines
from tests.marketplace.factories import hire_for

WEEK = ["8", "8", "7.5", "8", "6.25"]  # 37.75 hours, Monday to Friday


def monday_within_one_month() -> date:
    """Return a Monday two weeks or more ahead whose week, up to Friday, stays in one month."""
    day = today_brussels() + timedelta(days=14)
    monday = day - timedelta(days=day.weekday())
    while (monday + timedelta(days=4)).month != monday.month:
        monday += timedelta(weeks=1)
    return monday


def approved_contract_week(session, monday: date):
    client, freelancer, contract = hire_for(session, start=monday, rate="80.00")
    contracts.accept(session, client, contract.id, ip_address="192.0.2.1")
    contracts.accept(session, freelancer, contract.id, ip_address="192.0.2.2")
    hours = {monday + timedelta(days=offset): Decimal(value) for offset, value in enumerate(WEEK)}
    timesheets.save_hours(session, freelancer, contract.id, monday, hours)
    timesheets.submit_week(session, freelancer, contract.id, monday)
    timesheets.approve_week(session, client, contract.id, monday)
    return client, freelancer, contract


@pytest.fixture
def month_with_work(engine):
    """A month with 37.75 approved contract hours, 10 invoiced hours outside the contract with
    debtor management, a credit note of 2 of them, and an invoice drafted from the timesheets."""
    monday = monday_within_one_month()
    with session_scope(engine) as session:
        client, freelancer, contract = approved_contract_week(session, monday)
        profile = parties.ProfileInput(**{**factories.FREELANCER.__dict__, "debtor_management": True})
        parties.save_profile(session, freelancer.id, profile)
        timesheet_draft_id = timesheets.invoice_drafts_for_user(session, freelancer)[0].draft.id
        owner_id = freelancer.id
        drafted = issuing.create_draft_from_timesheets(session, freelancer, timesheet_draft_id)
        from_timesheets_id = drafted.invoice.id
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    invoice = factories.issued(engine, owner_id, customer_id, lines(
        ("Audit", "10", "HUR", "90", "21"), ("Déplacement", "1", "C62", "40", "21")), today=monday)
    factories.credit(engine, owner_id, invoice.id, lines(("Audit", "2", "HUR", "90", "21")))
    factories.issue(engine, owner_id, from_timesheets_id, today=monday)
    return {"monday": monday, "owner_id": owner_id, "company_id": contract.company_id, "client": client}


def fee_lines(engine, invoice_id: int) -> list[tuple[Decimal, Decimal, Decimal]]:
    with session_scope(engine) as session:
        rows = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                            .order_by(InvoiceLine.position)).all()
        return [(row.quantity, row.unit_price, row.line_amount) for row in rows]


def test_monthly_fee_invoices(engine, settings, month_with_work):
    monday = month_with_work["monday"]

    with session_scope(engine) as session:
        run = fees.run_monthly_fees(session, settings, monday.year, monday.month, issue_date=monday)
        issued = {(fee.payer_kind, fee.payer_id): fee.invoice_id
                  for fee in session.exec(select(fees.PlatformFeeInvoice)).all()}

    assert run.skipped == []
    assert len(run.issued) == 2
    freelancer_invoice = issued[("freelancer", month_with_work["owner_id"])]
    client_invoice = issued[("client", month_with_work["company_id"])]
    # Freelancer: 37.75 approved + 10 - 2 invoiced = 45.75 h at 2.50; debtor management on the
    # 8 invoiced hours at 2.00 (the contract did not choose it).
    assert fee_lines(engine, freelancer_invoice) == [
        (Decimal("45.7500"), Decimal("2.5000"), Decimal("114.38")),
        (Decimal("8.0000"), Decimal("2.0000"), Decimal("16.00")),
    ]
    # Client: the 37.75 approved hours at 2.50 = 94.375 -> 94.38, plus 21 % VAT 19.82.
    assert fee_lines(engine, client_invoice) == [(Decimal("37.7500"), Decimal("2.5000"), Decimal("94.38"))]
    with session_scope(engine) as session:
        client_fee = session.get(Invoice, client_invoice)
        detail = service.get_invoice_detail(session, client_fee.owner_id, client_fee.id)
        xml = export_ubl(detail)
        assert detail.supplier.name == settings.platform_name
        assert detail.supplier.enterprise_number == settings.platform_enterprise_number
        assert detail.customer.name == "Brabo Logistics NV"
        assert client_fee.payable_amount == Decimal("114.20")
        # Freelancers are invoiced first, then clients, in one series of the platform.
        assert client_fee.number == f"{monday.year}-0002"
        assert detail.lines[0].description.startswith("Administrative services, ")
        # en_BE writes decimals with a comma, as the rest of the product's English pages do.
        assert detail.lines[0].description.endswith(": 37,75 hours at 2,50\xa0€ per hour")
    assert peppol_validation.validate_schema(xml) == []
    assert peppol_validation.check_rules(xml) == []


def test_fee_run_twice_issues_once(engine, settings, month_with_work):
    monday = month_with_work["monday"]
    with session_scope(engine) as session:
        fees.run_monthly_fees(session, settings, monday.year, monday.month, issue_date=monday)
    with session_scope(engine) as session:
        second = fees.run_monthly_fees(session, settings, monday.year, monday.month, issue_date=monday)

    assert second.issued == []
    assert sorted(reason for _kind, _id, reason in second.skipped) == ["already invoiced", "already invoiced"]


def test_fee_amounts_follow_settings(engine, settings, month_with_work, monkeypatch):
    monday = month_with_work["monday"]
    changed = settings.model_copy(update={"platform_fee_client_per_hour": Decimal("3.00")})

    with session_scope(engine) as session:
        run = fees.run_monthly_fees(session, changed, monday.year, monday.month, issue_date=monday)
        client_fee = [invoice for invoice in run.issued if invoice.owner_id != month_with_work["owner_id"]][-1]

    assert fee_lines(engine, client_fee.id) == [(Decimal("37.7500"), Decimal("3.0000"), Decimal("113.25"))]


def test_invoice_drafted_from_timesheets(engine):
    monday = monday_within_one_month()
    with session_scope(engine) as session:
        _client, freelancer, contract = approved_contract_week(session, monday)
        parties.save_profile(session, freelancer.id, factories.FREELANCER)
        timesheet_draft_id = timesheets.invoice_drafts_for_user(session, freelancer)[0].draft.id
        result = issuing.create_draft_from_timesheets(session, freelancer, timesheet_draft_id)
        invoice_id, owner_id = result.invoice.id, freelancer.id
        assert result.customer_created
        detail = service.get_invoice_detail(session, owner_id, invoice_id)
        assert detail.customer.name == "Brabo Logistics NV"
        assert (detail.customer.endpoint_scheme, detail.customer.endpoint_id) == ("0208", contract.client_enterprise_number)
        assert [(line.quantity, line.unit_code, line.unit_price, line.line_amount) for line in detail.lines] == [
            (Decimal("37.7500"), "HUR", Decimal("80.0000"), Decimal("3020.00"))]
        assert detail.invoice.contract_id == contract.id
        assert detail.invoice.payable_amount == Decimal("3654.20")

    factories.issue(engine, owner_id, invoice_id)

    with session_scope(engine) as session:
        [view] = timesheets.invoice_drafts_for_user(session, freelancer)
        assert (view.draft.status, view.draft.invoice_id) == ("issued", invoice_id)


def test_fees_command(engine, month_with_work):
    from click.testing import CliRunner

    from backend.invoicing.cli import invoice

    monday = month_with_work["monday"]
    month = f"{monday.year}-{monday.month:02d}"

    first = CliRunner().invoke(invoice, ["fees", "--month", month])
    second = CliRunner().invoke(invoice, ["fees", "--month", month])
    wrong = CliRunner().invoke(invoice, ["fees", "--month", "2026-13"])

    assert first.exit_code == 0, first.output
    assert f"2 fee invoices issued for {month}." in first.output
    assert "0 fee invoices issued" in second.output
    assert second.output.count("already invoiced") == 2
    assert wrong.exit_code == 2
    assert "invalid month 2026-13" in wrong.output

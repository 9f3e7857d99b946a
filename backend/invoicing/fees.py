"""The platform's monthly invoices for its fees, issued with the same machinery as any invoice.

The platform charges a flat fee per hour for its administrative services, to the freelancer
and to the client (``platform_fee_freelancer_per_hour``, ``platform_fee_client_per_hour``),
and a further fee per hour to a freelancer who chose debtor management
(``platform_fee_debtor_management_per_hour``). All amounts exclude VAT.

Hours come from two sources, and each hour counts once:

- Contract work: the hours the client approved on timesheets for days of the month
  (``timesheets.service.approved_hours_for_month``). They bear both fees; the client's fee is
  invoiced to the contract's client company.
- Other invoices the freelancer issued here: lines in hours (unit code HUR) of invoices and
  credit notes dated in the month, credit notes counting negative. Invoices made from
  timesheets are left out, since their hours counted when they were approved. Those
  customers never agreed to the platform's terms, so they bear no client fee.

The platform is the supplier, described by the ``platform_*`` settings, and owns its
invoices through the account ``platform_billing_email``. Running a month twice issues
nothing new: one fee invoice per month and payer is recorded in ``PlatformFeeInvoice``.
"""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import structlog
from babel.dates import format_date
from sqlmodel import Session, select

from backend.core.settings import Settings
from backend.invoicing import drafts, issuing, parties, sending
from backend.invoicing.models import Customer, Invoice, InvoiceLine, PlatformFeeInvoice
from backend.web.i18n import LOCALES, format_money, format_number, gettext_for

log = structlog.get_logger(__name__)

ZERO = Decimal("0.00")


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


ADMINISTRATIVE_LINE = _("Administrative services, {month}: {hours} hours at {rate} per hour")
DEBTOR_MANAGEMENT_LINE = _("Debtor management, {month}: {hours} hours at {rate} per hour")
FEE_NOTE = _("Platform fees of {month}.")


@dataclass
class PayerHours:
    hours: Decimal = ZERO
    debtor_management_hours: Decimal = ZERO


@dataclass
class FeeRun:
    year: int
    month: int
    issued: list[Invoice] = field(default_factory=list)
    # (payer kind, payer id, reason) of payers that got no invoice.
    skipped: list[tuple[str, int, str]] = field(default_factory=list)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def platform_owner_id(session: Session, settings: Settings) -> int:
    """Return the platform's billing account, created with an unusable password on first use."""
    from backend.accounts.models import User
    from backend.accounts.service import normalize_email, sign_up

    # TODO: use an accounts service lookup by e-mail once accounts offers one.
    email = normalize_email(settings.platform_billing_email)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = sign_up(session, email=email, name=settings.platform_name, password=secrets.token_urlsafe(32))
    return user.id


def ensure_platform_profile(session: Session, owner_id: int, settings: Settings) -> None:
    """Write the platform's business details from the settings, so that they stay current."""
    parties.save_profile(session, owner_id, parties.ProfileInput(
        name=settings.platform_name, registration_name=settings.platform_registration_name,
        street=settings.platform_street, postal_code=settings.platform_postal_code, city=settings.platform_city,
        country=settings.platform_country, enterprise_number=settings.platform_enterprise_number,
        vat_number=settings.platform_vat_number, iban=settings.platform_iban, bic=settings.platform_bic,
        email=settings.platform_billing_email, payment_terms_days=settings.platform_fee_payment_terms_days))


def invoiced_hours(session: Session, year: int, month: int, exclude_owner_id: int) -> dict[int, PayerHours]:
    """Return, per freelancer, the hours of the month's issued invoices not made from timesheets."""
    first, last = month_bounds(year, month)
    # Quantities are summed here rather than in SQL, where SQLite keeps them as scaled integers.
    query = (
        select(Invoice.owner_id, Invoice.debtor_management, Invoice.document_type, InvoiceLine.quantity)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.source == "issued", Invoice.status != "draft", Invoice.contract_id.is_(None),
               Invoice.owner_id != exclude_owner_id, InvoiceLine.unit_code == "HUR",
               Invoice.issue_date >= first, Invoice.issue_date <= last)
    )
    totals: dict[int, PayerHours] = {}
    for owner_id, debtor_management, document_type, quantity in session.exec(query):
        hours = -quantity if document_type == "credit_note" else quantity
        entry = totals.setdefault(owner_id, PayerHours())
        entry.hours += hours
        if debtor_management:
            entry.debtor_management_hours += hours
    return totals


def run_monthly_fees(session: Session, settings: Settings, year: int, month: int,
                     issue_date: date | None = None) -> FeeRun:
    """Issue the platform's fee invoices of a month and queue their e-mails.

    Call inside ``session_scope(engine, write_lock=True)``: every invoice takes a number.
    """
    from backend.timesheets.service import approved_hours_for_month

    run = FeeRun(year=year, month=month)
    owner_id = platform_owner_id(session, settings)
    ensure_platform_profile(session, owner_id, settings)

    freelancers = invoiced_hours(session, year, month, exclude_owner_id=owner_id)
    clients: dict[int, PayerHours] = {}
    for item in approved_hours_for_month(session, year, month):
        entry = freelancers.setdefault(item.freelancer_user_id, PayerHours())
        entry.hours += item.hours
        if item.debtor_management:
            entry.debtor_management_hours += item.hours
        clients.setdefault(item.company_id, PayerHours()).hours += item.hours

    for user_id, hours in sorted(freelancers.items()):
        customer = _freelancer_customer(session, owner_id, user_id)
        _issue_fee_invoice(session, settings, run, owner_id, "freelancer", user_id, customer, hours, issue_date)
    for company_id, hours in sorted(clients.items()):
        customer = _company_customer(session, owner_id, company_id)
        _issue_fee_invoice(session, settings, run, owner_id, "client", company_id, customer, hours, issue_date)
    log.info("fees.run", year=year, month=month, issued=len(run.issued), skipped=len(run.skipped))
    return run


def _issue_fee_invoice(session: Session, settings: Settings, run: FeeRun, owner_id: int, payer_kind: str,
                       payer_id: int, customer: Customer | None, hours: PayerHours, issue_date: date | None) -> None:
    existing = session.exec(select(PlatformFeeInvoice).where(
        PlatformFeeInvoice.year == run.year, PlatformFeeInvoice.month == run.month,
        PlatformFeeInvoice.payer_kind == payer_kind, PlatformFeeInvoice.payer_id == payer_id)).first()
    if existing is not None:
        run.skipped.append((payer_kind, payer_id, "already invoiced"))
        return
    if hours.hours <= 0:
        run.skipped.append((payer_kind, payer_id, "no hours"))
        return
    if customer is None:
        run.skipped.append((payer_kind, payer_id, "no billing details"))
        log.warning("fees.payer_skipped", payer_kind=payer_kind, payer_id=payer_id, reason="no billing details")
        return

    language = customer.language
    gettext = gettext_for(language)
    month_name = format_date(date(run.year, run.month, 1), "MMMM y", locale=LOCALES[language])
    rate = (settings.platform_fee_freelancer_per_hour if payer_kind == "freelancer"
            else settings.platform_fee_client_per_hour)
    lines = [_fee_line(gettext(ADMINISTRATIVE_LINE), month_name, hours.hours, rate, language)]
    if payer_kind == "freelancer" and hours.debtor_management_hours > 0:
        lines.append(_fee_line(gettext(DEBTOR_MANAGEMENT_LINE), month_name, hours.debtor_management_hours,
                               settings.platform_fee_debtor_management_per_hour, language))
    profile = parties.require_profile(session, owner_id)
    data = drafts.DraftInput(customer_id=customer.id, lines=lines, vat_scheme=parties.default_scheme(profile, customer),
                             note=gettext(FEE_NOTE).format(month=month_name))
    draft = drafts.create_draft(session, owner_id, data)
    invoice = issuing.issue(session, owner_id, draft.id, today=issue_date)
    session.add(PlatformFeeInvoice(year=run.year, month=run.month, payer_kind=payer_kind, payer_id=payer_id,
                                   invoice_id=invoice.id, hours=hours.hours))
    session.flush()
    if customer.email:
        sending.request_send(session, owner_id, invoice.id)
    run.issued.append(invoice)


def _fee_line(template: str, month_name: str, hours: Decimal, rate: Decimal, language: str) -> drafts.LineEntry:
    description = template.format(month=month_name, hours=format_number(hours, language),
                                  rate=format_money(rate, language))
    return drafts.LineEntry(description=description, quantity=str(hours), unit_price=str(rate), unit_code="HUR",
                            vat_rate="21")


def _freelancer_customer(session: Session, owner_id: int, user_id: int) -> Customer | None:
    """Return the platform's customer record of a freelancer, from the freelancer's business details."""
    from backend.accounts.service import get_user

    profile = parties.get_profile(session, user_id)
    if profile is None:
        return None
    user = get_user(session, user_id)
    return _upsert_customer(session, owner_id, parties.CustomerInput(
        name=profile.name, registration_name=profile.registration_name or "", street=profile.street,
        postal_code=profile.postal_code, city=profile.city, country=profile.country,
        enterprise_number=profile.enterprise_number, vat_number=profile.vat_number or "",
        language=(user.language if user is not None and user.language else "fr"),
        email=profile.email or (user.email if user is not None else "")))


def _company_customer(session: Session, owner_id: int, company_id: int) -> Customer | None:
    """Return the platform's customer record of a client company, from its marketplace details."""
    from backend.marketplace import service as marketplace

    members = marketplace.company_users(session, company_id)
    company = marketplace.company_for_user(session, members[0].id) if members else None
    if company is None:
        return None
    return _upsert_customer(session, owner_id, parties.CustomerInput(
        name=company.name, street=company.street, postal_code=company.postal_code, city=company.city,
        enterprise_number=company.enterprise_number,
        # NOTE: marketplace companies have no VAT number field; a Belgian company is taken as
        # VAT-registered under BE and its enterprise number.
        vat_number="BE" + company.enterprise_number,
        language=members[0].language or "fr", email=members[0].email))


def _upsert_customer(session: Session, owner_id: int, data: parties.CustomerInput) -> Customer:
    existing = session.exec(select(Customer).where(Customer.owner_id == owner_id,
                                                   Customer.enterprise_number == data.enterprise_number)).first()
    return parties.save_customer(session, owner_id, data, existing.id if existing else None)

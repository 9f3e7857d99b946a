"""Issuing drafts, and correcting issued invoices with credit notes.

Issuing freezes a draft: its parties are copied from the current business details and
customer, its amounts are computed again, it gets the next number of the issuer's series,
today's date, its due date, and a structured communication. From then on nothing of it
changes; a mistake is corrected by a credit note that references the invoice.

Call ``issue`` inside ``session_scope(engine, write_lock=True)``: on SQLite the number is
taken under the database write lock (see ``numbering.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import structlog
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.core.time import today_brussels, utcnow
from backend.invoicing import drafts, errors, numbering, parties, vat
from backend.invoicing import structured_communication as ogm
from backend.invoicing.drafts import DraftInput, LineEntry
from backend.invoicing.models import Invoice, InvoiceLine
from backend.invoicing.service import get_owned_invoice, record_timeline

log = structlog.get_logger(__name__)


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


TIMESHEET_LINE = _("{mission}: hours of the week of {week}")


def issue(session: Session, owner_id: int, invoice_id: int, today: date | None = None) -> Invoice:
    """Issue a draft invoice or credit note and return it, numbered and frozen."""
    invoice = _lock(session, owner_id, invoice_id)
    drafts.require_draft(invoice)
    profile = parties.require_profile(session, owner_id)
    customer = parties.get_customer(session, owner_id, invoice.customer_id)
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
                         .order_by(InvoiceLine.position)).all()
    if not lines:
        raise errors.NoLines()
    drafts.check_scheme(profile, customer, invoice.vat_scheme, invoice.delivery_date)
    if parties.electronic_address(customer.enterprise_number, customer.vat_number, customer.country,
                                  customer.email) is None:
        raise errors.CustomerWithoutElectronicAddress(customer=customer.name)

    # The document is computed again from its lines, so that a rule change since the draft
    # was saved, or a customer who changed language, is reflected in what is issued.
    inputs = [vat.LineInput(description=line.description, quantity=line.quantity, unit_code=line.unit_code,
                            unit_price=line.unit_price, vat_rate=line.vat_rate or Decimal(0)) for line in lines]
    computation = vat.compute(inputs, invoice.vat_scheme, customer.language)
    credited = _check_credit_note(session, owner_id, invoice, computation) if invoice.is_credit_note else None
    if not invoice.is_credit_note and computation.totals.payable_amount < 0:
        raise errors.NegativeInvoiceTotal(amount=computation.totals.payable_amount)

    issue_date = today or today_brussels()
    number = numbering.next_number(session, owner_id, issue_date.year, profile.number_prefix)
    _check_number_free(session, owner_id, profile.enterprise_number, number)

    invoice.number = number
    invoice.issue_date = issue_date
    invoice.due_date = issue_date + timedelta(days=invoice.payment_terms_days or 0)
    invoice.supplier_key = profile.enterprise_number
    invoice.iban, invoice.bic = profile.iban, profile.bic
    invoice.debtor_language = customer.language
    invoice.issued_at = utcnow()
    if invoice.is_credit_note:
        # Nothing is paid on a credit note, because it lowers the amount due on the credited invoice.
        invoice.due_date = issue_date
        invoice.status = "issued"
    else:
        invoice.structured_communication = ogm.build(invoice.id)
        invoice.status = "open" if computation.totals.payable_amount > 0 else "paid"
    drafts.write_computation(session, invoice, computation)
    drafts.write_parties(session, invoice, profile, customer)
    session.add(invoice)
    session.flush()

    record_timeline(session, invoice.id, "issued", number=number, amount=invoice.payable_amount)
    if credited is not None:
        _apply_credit(session, credited, invoice)
    if invoice.timesheet_draft_id is not None:
        from backend.timesheets.service import mark_draft_issued

        mark_draft_issued(session, invoice.timesheet_draft_id, invoice.id)
    log.info("invoice.issued", invoice_id=invoice.id, owner_id=owner_id, number=number,
             document_type=invoice.document_type)
    return invoice


def create_credit_note(session: Session, owner_id: int, invoice_id: int) -> Invoice:
    """Start a credit note draft for an issued invoice, with the invoice's lines and scheme.

    The freelancer may lower or remove lines before issuing it to credit part of the invoice.
    """
    original = get_owned_invoice(session, owner_id, invoice_id)
    if original.is_draft or original.is_credit_note or original.source != "issued":
        raise errors.NotCreditable(number=original.number or "—")
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == original.id)
                         .order_by(InvoiceLine.position)).all()
    data = DraftInput(
        customer_id=original.customer_id,
        vat_scheme=original.vat_scheme,
        buyer_reference=original.buyer_reference or "",
        payment_terms_days=0,
        delivery_date=original.delivery_date,
        debtor_management=original.debtor_management,
        lines=[LineEntry(description=line.description, quantity=str(line.quantity), unit_price=str(line.unit_price),
                         unit_code=line.unit_code or "C62", vat_rate=str(line.vat_rate or 0)) for line in lines],
    )
    credit_note = drafts.create_draft(session, owner_id, data, document_type="credit_note", credited_invoice=original)
    log.info("invoice.credit_note_started", invoice_id=credit_note.id, credited_invoice_id=original.id)
    return credit_note


@dataclass(frozen=True)
class TimesheetDraftResult:
    invoice: Invoice
    customer_created: bool


def create_draft_from_timesheets(session: Session, user: User, timesheet_draft_id: int) -> TimesheetDraftResult:
    """Start an invoice draft from the approved hours of a contract's timesheets.

    The contract's client becomes the customer (created once, from its company details), each
    approved week becomes a line in hours (unit HUR) at the contract's rate, and the contract's
    payment term and debtor management choice carry over.
    """
    from backend.contracts import service as contracts
    from backend.marketplace import service as marketplace
    from backend.timesheets import service as timesheets
    from backend.web.i18n import format_day, gettext_for

    view = timesheets.get_invoice_draft(session, user, timesheet_draft_id)
    if view.draft.status != "draft":
        raise errors.InvoiceNotDraft(number=str(view.draft.invoice_id))
    if not view.lines:
        raise errors.NoLines()
    contract = view.contract

    customer = session.exec(
        select(parties.Customer).where(parties.Customer.owner_id == user.id,
                                       parties.Customer.enterprise_number == contract.client_enterprise_number)
    ).first()
    created = customer is None
    if customer is None:
        client_ids = contracts.party_user_ids(session, contract, "client")
        company = marketplace.company_for_user(session, client_ids[0]) if client_ids else None
        if company is None:
            raise errors.ClientCompanyNotFound(contract_id=contract.id)
        emails = [member.email for member in marketplace.company_users(session, company.id)]
        customer = parties.save_customer(session, user.id, parties.CustomerInput(
            name=company.name, street=company.street, postal_code=company.postal_code, city=company.city,
            enterprise_number=company.enterprise_number, language=contract.language,
            email=emails[0] if emails else "",
            # NOTE: marketplace companies have no VAT number field; Belgian companies are taken
            # as VAT-registered under BE and their enterprise number.
            vat_number="BE" + company.enterprise_number))

    gettext = gettext_for(customer.language)
    lines = [
        LineEntry(description=gettext(TIMESHEET_LINE).format(mission=contract.mission_title,
                                                             week=format_day(line.week_start, customer.language)),
                  quantity=str(line.hours), unit_price=str(line.unit_price), unit_code="HUR", vat_rate="21")
        for line in view.lines
    ]
    data = DraftInput(customer_id=customer.id, lines=lines, payment_terms_days=contract.payment_terms_days,
                      debtor_management=contract.debtor_management, contract_id=contract.id,
                      timesheet_draft_id=view.draft.id)
    invoice = drafts.create_draft(session, user.id, data)
    return TimesheetDraftResult(invoice=invoice, customer_created=created)


def _lock(session: Session, owner_id: int, invoice_id: int) -> Invoice:
    """Load the owner's document locked for update, so that two issues of one draft wait."""
    invoice = session.exec(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if invoice is None or invoice.owner_id != owner_id:
        raise errors.InvoiceNotFound(invoice_id=invoice_id)
    return invoice


def _check_number_free(session: Session, owner_id: int, supplier_key: str, number: str) -> None:
    existing_id = session.exec(select(Invoice.id).where(
        Invoice.owner_id == owner_id, Invoice.supplier_key == supplier_key, Invoice.number == number)).first()
    if existing_id is not None:
        raise errors.NumberAlreadyUsed(number=number)


def _check_credit_note(session: Session, owner_id: int, credit_note: Invoice,
                       computation: vat.Computation) -> Invoice:
    original = session.exec(
        select(Invoice).where(Invoice.id == credit_note.credited_invoice_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if original is None or original.owner_id != owner_id or original.is_draft or original.is_credit_note:
        raise errors.NotCreditable(number=credit_note.billing_reference or "—")
    remaining = original.payable_amount - original.credited_amount
    if computation.totals.payable_amount > remaining:
        from backend.web.i18n import format_money

        language = original.debtor_language
        raise errors.CreditNoteTooLarge(amount=format_money(computation.totals.payable_amount, language),
                                        remaining=format_money(remaining, language), number=original.number)
    return original


def _apply_credit(session: Session, original: Invoice, credit_note: Invoice) -> None:
    """Lower the amount due on the credited invoice, and close it once nothing is left to pay."""
    original.credited_amount += credit_note.payable_amount
    if original.status == "open" and original.amount_due <= 0:
        original.status = "credited"
    session.add(original)
    record_timeline(session, original.id, "credited", credit_note=credit_note.number,
                    amount=credit_note.payable_amount)
    session.flush()

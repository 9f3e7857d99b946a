"""Draft invoices and credit notes: written, changed and deleted freely, with no number.

A draft is stored like an issued document, with its lines, VAT breakdown and both parties,
so that its preview is the document it will become. Issuing (``issuing.py``) freezes it and
numbers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import structlog
from sqlalchemy import delete
from sqlmodel import Session, select

from backend.core.time import today_brussels
from backend.invoicing import errors, parties, vat
from backend.invoicing.formatting import UNIT_LABELS
from backend.invoicing.models import (
    BusinessProfile,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceParty,
    InvoiceTaxSubtotal,
    TimelineEntry,
)
from backend.invoicing.service import get_owned_invoice

log = structlog.get_logger(__name__)

MAX_LINES = 200
MAX_DESCRIPTION_LENGTH = 1000
MAX_MAGNITUDE = Decimal("1e9")
# Units offered on the draft form (UN/ECE recommendation 20).
UNIT_CODES = ("HUR", "DAY", "C62", "LS", "KMT", "MON")


@dataclass
class LineEntry:
    """One line as the form sends it: text fields, checked by ``parse_lines``."""

    description: str
    quantity: str
    unit_price: str
    unit_code: str = "HUR"
    vat_rate: str = "21"


@dataclass
class DraftInput:
    customer_id: int
    lines: list[LineEntry]
    vat_scheme: str | None = None
    note: str = ""
    buyer_reference: str = ""
    payment_terms_days: int | str | None = None
    delivery_date: str | date | None = None
    debtor_management: bool | None = None
    contract_id: int | None = None
    timesheet_draft_id: int | None = None


def parse_decimal(raw: str, places: int) -> Decimal | None:
    """Parse a number written with a dot or a comma; None when it is not one."""
    text = str(raw).strip().replace(" ", "").replace("\u202f", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= MAX_MAGNITUDE or number != number.quantize(Decimal(1).scaleb(-places)):
        return None
    return number.quantize(Decimal(1).scaleb(-places))


def parse_lines(entries: list[LineEntry], scheme: str) -> list[vat.LineInput]:
    """Check the form's lines and return them as computation input. Empty rows are skipped."""
    lines = []
    for position, entry in enumerate(entries, start=1):
        description = entry.description.strip()
        if not description and not entry.quantity.strip() and not entry.unit_price.strip():
            continue
        if not description:
            raise errors.MissingLineDescription(position=position)
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise errors.LineDescriptionTooLong(position=position, limit=MAX_DESCRIPTION_LENGTH)
        quantity = parse_decimal(entry.quantity, 4)
        if quantity is None or quantity == 0:
            raise errors.InvalidQuantity(value=entry.quantity, position=position)
        unit_price = parse_decimal(entry.unit_price, 4)
        if unit_price is None:
            raise errors.InvalidUnitPrice(value=entry.unit_price, position=position)
        if entry.unit_code not in UNIT_LABELS:
            raise errors.UnknownUnitCode(value=entry.unit_code, position=position)
        rate = parse_decimal(entry.vat_rate or "0", 2)
        if scheme == "standard" and (rate is None or rate not in vat.STANDARD_RATES):
            raise errors.InvalidVatRate(value=entry.vat_rate, position=position)
        lines.append(vat.LineInput(description=description, quantity=quantity, unit_code=entry.unit_code,
                                   unit_price=unit_price, vat_rate=rate or Decimal(0)))
    if not lines:
        raise errors.NoLines()
    if len(lines) > MAX_LINES:
        raise errors.TooManyLines(limit=MAX_LINES)
    return lines


def check_scheme(profile: BusinessProfile, customer: Customer, scheme: str, delivery_date: date | None) -> None:
    """Raise when ``scheme`` cannot apply between this supplier and this customer."""
    if scheme not in vat.VAT_SCHEMES:
        raise errors.InvalidChoice(value=scheme, choices=", ".join(vat.VAT_SCHEMES))
    if profile.vat_regime == "small_business" and scheme != "small_business":
        raise errors.SmallBusinessSchemeOnly()
    if scheme == "small_business" and profile.vat_regime != "small_business":
        raise errors.SmallBusinessSchemeNotYours()
    if scheme in ("intra_eu_services", "intra_eu_goods") and not parties.is_intra_eu_business(customer):
        raise errors.IntraEuNeedsForeignVatNumber(customer=customer.name)
    if scheme == "domestic_reverse_charge" and not (customer.vat_number or "").startswith("BE"):
        raise errors.ReverseChargeNeedsVatNumber(customer=customer.name)
    if scheme == "intra_eu_goods" and delivery_date is None:
        raise errors.DeliveryDateRequired()


def parse_date(raw: str | date | None) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise errors.InvalidDateEntry(value=raw) from None


def create_draft(session: Session, owner_id: int, data: DraftInput, document_type: str = "invoice",
                 credited_invoice: Invoice | None = None) -> Invoice:
    """Store a new draft for one of the owner's customers; it has no number until issued."""
    profile = parties.require_profile(session, owner_id)
    if not data.customer_id:
        raise errors.CustomerRequired()
    customer = parties.get_customer(session, owner_id, data.customer_id)
    today = today_brussels()
    invoice = Invoice(
        owner_id=owner_id, source="issued", document_type=document_type, number=None,
        supplier_key=profile.enterprise_number, issue_date=today, due_date=today, currency="EUR",
        iban=profile.iban, bic=profile.bic, line_extension_amount=Decimal("0.00"),
        tax_exclusive_amount=Decimal("0.00"), tax_amount=Decimal("0.00"), tax_inclusive_amount=Decimal("0.00"),
        payable_amount=Decimal("0.00"), status="draft", debtor_language=customer.language,
        debtor_language_source="freelancer", customer_id=customer.id,
    )
    if credited_invoice is not None:
        invoice.credited_invoice_id = credited_invoice.id
        invoice.billing_reference = credited_invoice.number
        invoice.billing_reference_date = credited_invoice.issue_date
        invoice.contract_id = credited_invoice.contract_id
    session.add(invoice)
    session.flush()
    _write(session, invoice, profile, customer, data)
    log.info("invoice.draft_created", invoice_id=invoice.id, owner_id=owner_id, document_type=document_type)
    return invoice


def update_draft(session: Session, owner_id: int, invoice_id: int, data: DraftInput) -> Invoice:
    """Replace a draft's customer, lines and terms. An issued document never changes."""
    invoice = get_owned_invoice(session, owner_id, invoice_id)
    require_draft(invoice)
    profile = parties.require_profile(session, owner_id)
    if not data.customer_id:
        raise errors.CustomerRequired()
    customer = parties.get_customer(session, owner_id, data.customer_id)
    invoice.customer_id = customer.id
    invoice.debtor_language = customer.language
    _write(session, invoice, profile, customer, data)
    return invoice


def delete_draft(session: Session, owner_id: int, invoice_id: int) -> None:
    """Delete a draft. It never had a number, so the series keeps no gap."""
    invoice = get_owned_invoice(session, owner_id, invoice_id)
    require_draft(invoice)
    for model in (InvoiceLine, InvoiceTaxSubtotal, InvoiceParty, TimelineEntry):
        session.exec(delete(model).where(model.invoice_id == invoice.id))
    session.delete(invoice)
    session.flush()
    log.info("invoice.draft_deleted", invoice_id=invoice_id, owner_id=owner_id)


def require_draft(invoice: Invoice) -> None:
    if not invoice.is_draft:
        raise errors.InvoiceNotDraft(number=invoice.number)


def require_issued(invoice: Invoice) -> None:
    """Raise unless the document was issued here, the only ones Ikki writes e-invoice files of."""
    if invoice.is_draft:
        raise errors.NoUblForDraft()
    if invoice.source != "issued":
        raise errors.NoUblForImported(number=invoice.number)


def draft_input(session: Session, invoice: Invoice) -> DraftInput:
    """Return a draft's stored content as form values."""
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
                         .order_by(InvoiceLine.position)).all()
    return DraftInput(
        customer_id=invoice.customer_id,
        vat_scheme=invoice.vat_scheme,
        note=invoice.note or "",
        buyer_reference=invoice.buyer_reference or "",
        payment_terms_days=invoice.payment_terms_days,
        delivery_date=invoice.delivery_date,
        debtor_management=invoice.debtor_management,
        lines=[LineEntry(description=line.description, quantity=_plain(line.quantity),
                         unit_price=_plain(line.unit_price), unit_code=line.unit_code or "C62",
                         vat_rate=_plain(line.vat_rate if line.vat_rate is not None else Decimal(0)))
               for line in lines],
    )


def _plain(value: Decimal) -> str:
    """Write a decimal without trailing zeros, as a person types it."""
    return format(value.normalize(), "f")


def _write(session: Session, invoice: Invoice, profile: BusinessProfile, customer: Customer,
           data: DraftInput) -> None:
    """Compute the draft's amounts and replace its lines, breakdown and parties."""
    scheme = data.vat_scheme or parties.default_scheme(profile, customer)
    delivery_date = parse_date(data.delivery_date)
    check_scheme(profile, customer, scheme, delivery_date)
    lines = parse_lines(data.lines, scheme)
    computation = vat.compute(lines, scheme, customer.language)
    terms = (parties.check_payment_terms(data.payment_terms_days)
             if data.payment_terms_days not in (None, "") else profile.payment_terms_days)

    invoice.vat_scheme = scheme
    invoice.delivery_date = delivery_date
    invoice.note = parties.clean(data.note, 1000) or None
    invoice.buyer_reference = parties.clean(data.buyer_reference) or None
    invoice.payment_terms_days = terms
    invoice.due_date = invoice.issue_date + timedelta(days=terms)
    invoice.debtor_management = profile.debtor_management if data.debtor_management is None else data.debtor_management
    if data.contract_id is not None:
        invoice.contract_id = data.contract_id
    if data.timesheet_draft_id is not None:
        invoice.timesheet_draft_id = data.timesheet_draft_id
    write_computation(session, invoice, computation)
    write_parties(session, invoice, profile, customer)
    session.add(invoice)
    session.flush()


def write_computation(session: Session, invoice: Invoice, computation: vat.Computation) -> None:
    """Replace the document's lines and VAT breakdown and set its totals from ``computation``."""
    for model in (InvoiceLine, InvoiceTaxSubtotal):
        session.exec(delete(model).where(model.invoice_id == invoice.id))
    session.add_all(
        InvoiceLine(invoice_id=invoice.id, position=line.position, description=line.description,
                    quantity=line.quantity, unit_code=line.unit_code, unit_price=line.unit_price,
                    line_amount=line.line_amount, vat_category=line.vat_category, vat_rate=line.vat_rate)
        for line in computation.lines
    )
    session.add_all(
        InvoiceTaxSubtotal(invoice_id=invoice.id, category=item.category, rate=item.rate,
                           taxable_amount=item.taxable_amount, tax_amount=item.tax_amount,
                           exemption_reason=item.exemption_reason,
                           exemption_reason_code=item.exemption_reason_code)
        for item in computation.subtotals
    )
    totals = computation.totals
    invoice.line_extension_amount = totals.line_extension_amount
    invoice.tax_exclusive_amount = totals.tax_exclusive_amount
    invoice.tax_amount = totals.tax_amount
    invoice.tax_inclusive_amount = totals.tax_inclusive_amount
    invoice.payable_amount = totals.payable_amount


def write_parties(session: Session, invoice: Invoice, profile: BusinessProfile, customer: Customer) -> None:
    """Replace the document's two parties with the current business details and customer."""
    session.exec(delete(InvoiceParty).where(InvoiceParty.invoice_id == invoice.id))
    session.add(InvoiceParty(invoice_id=invoice.id, **parties.supplier_party(profile)))
    session.add(InvoiceParty(invoice_id=invoice.id, **parties.customer_party(customer)))

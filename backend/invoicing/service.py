"""Invoices: import, lookup, the debtor's contact and language, and the timeline.

Other domains call these functions, never the tables. Functions flush and leave the
commit to the request, message or job that called them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.core.settings import get_settings
from backend.core.time import utcnow
from backend.invoicing import errors
from backend.invoicing import structured_communication as ogm
from backend.invoicing.debtor_language import guess_debtor_language, is_supported
from backend.invoicing.models import (
    Invoice,
    InvoiceLine,
    InvoiceParty,
    InvoiceTaxSubtotal,
    TimelineEntry,
)
from backend.invoicing.peppol_import import ParsedInvoice, display_filename, parse_invoice

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DebtorContact:
    """The debtor's contact and payment details, for reminder letters, e-mails and calls."""

    invoice_id: int
    owner_id: int
    invoice_number: str
    amount_due: Decimal
    currency: str
    due_date: date
    # Written as +++ddd/dddd/ddddd+++, or None when the invoice has none.
    structured_communication: str | None
    iban: str
    bic: str | None
    creditor_name: str
    debtor_name: str
    debtor_email: str | None
    debtor_phone: str | None
    language: str

    @property
    def structured_communication_digits(self) -> str | None:
        """The 12 digits of the structured communication, as the EPC QR code carries them."""
        if self.structured_communication is None:
            return None
        return "".join(character for character in self.structured_communication if character.isdigit())


@dataclass(frozen=True)
class InvoiceDetail:
    invoice: Invoice
    supplier: InvoiceParty
    customer: InvoiceParty
    lines: list[InvoiceLine]
    tax_subtotals: list[InvoiceTaxSubtotal]
    timeline: list[TimelineEntry]


@dataclass(frozen=True)
class InvoiceSummary:
    invoice: Invoice
    debtor_name: str


def record_timeline(session: Session, invoice_id: int, kind: str, at: datetime | None = None,
                    **data: Any) -> TimelineEntry:
    """Add an event to the invoice's timeline. ``data`` is stored as JSON.

    Dates, times and decimals in ``data`` are stored as ISO 8601 text and decimal text.
    """
    entry = TimelineEntry(invoice_id=invoice_id, kind=kind, at=at or utcnow(), data=_to_json(data))
    session.add(entry)
    session.flush()
    return entry


def timeline(session: Session, invoice_id: int) -> list[TimelineEntry]:
    statement = (
        select(TimelineEntry)
        .where(TimelineEntry.invoice_id == invoice_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    return list(session.exec(statement))


def get_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise errors.InvoiceNotFound(invoice_id=invoice_id)
    return invoice


def get_owned_invoice(session: Session, owner_id: int, invoice_id: int) -> Invoice:
    """Return the invoice if ``owner_id`` owns it. Another owner's invoice is reported as not
    found, so that its existence is not revealed."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.owner_id != owner_id:
        raise errors.InvoiceNotFound(invoice_id=invoice_id)
    return invoice


def get_invoice_detail(session: Session, owner_id: int, invoice_id: int) -> InvoiceDetail:
    invoice = get_owned_invoice(session, owner_id, invoice_id)
    parties = {
        party.role: party
        for party in session.exec(select(InvoiceParty).where(InvoiceParty.invoice_id == invoice_id))
    }
    lines = session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
    )
    tax_subtotals = session.exec(
        select(InvoiceTaxSubtotal).where(InvoiceTaxSubtotal.invoice_id == invoice_id).order_by(InvoiceTaxSubtotal.id)
    )
    return InvoiceDetail(
        invoice=invoice,
        supplier=parties["supplier"],
        customer=parties["customer"],
        lines=list(lines),
        tax_subtotals=list(tax_subtotals),
        timeline=timeline(session, invoice_id),
    )


def related_documents(session: Session, invoice: Invoice) -> list[Invoice]:
    """Return the credit notes of an invoice, or the invoice a credit note corrects."""
    if invoice.is_credit_note:
        if invoice.credited_invoice_id is None:
            return []
        original = session.get(Invoice, invoice.credited_invoice_id)
        return [original] if original is not None else []
    statement = select(Invoice).where(Invoice.credited_invoice_id == invoice.id).order_by(Invoice.id)
    return list(session.exec(statement))


def list_invoices(session: Session, owner_id: int) -> list[InvoiceSummary]:
    """Return the owner's invoices, credit notes and drafts with their debtor's name: drafts
    first, then the earliest due date first."""
    statement = (
        select(Invoice, InvoiceParty.name)
        .join(InvoiceParty, sa.and_(InvoiceParty.invoice_id == Invoice.id, InvoiceParty.role == "customer"))
        .where(Invoice.owner_id == owner_id)
        .order_by(sa.case((Invoice.status == "draft", 0), else_=1), Invoice.due_date, Invoice.id)
    )
    return [InvoiceSummary(invoice=invoice, debtor_name=name) for invoice, name in session.exec(statement)]


def debtor_contact(session: Session, invoice_id: int) -> DebtorContact:
    invoice = get_invoice(session, invoice_id)
    parties = {
        party.role: party
        for party in session.exec(select(InvoiceParty).where(InvoiceParty.invoice_id == invoice_id))
    }
    supplier, customer = parties["supplier"], parties["customer"]
    communication = invoice.structured_communication
    return DebtorContact(
        invoice_id=invoice.id,
        owner_id=invoice.owner_id,
        invoice_number=invoice.number,
        amount_due=invoice.amount_due,
        currency=invoice.currency,
        due_date=invoice.due_date,
        structured_communication=ogm.format_digits(communication) if communication else None,
        iban=invoice.iban,
        bic=invoice.bic,
        creditor_name=supplier.name,
        debtor_name=customer.name,
        debtor_email=customer.email,
        debtor_phone=customer.phone,
        language=invoice.debtor_language,
    )


def set_debtor_language(session: Session, owner_id: int, invoice_id: int, language: str) -> Invoice:
    """Set the language the debtor is written to and called in, as the freelancer chose it."""
    if not is_supported(language):
        raise errors.UnsupportedDebtorLanguage(language=language)
    invoice = get_owned_invoice(session, owner_id, invoice_id)
    previous = invoice.debtor_language

    invoice.debtor_language = language
    invoice.debtor_language_source = "freelancer"
    session.add(invoice)
    if previous != language:
        record_timeline(session, invoice_id, "debtor_language_changed", previous_language=previous,
                        language=language)
    session.flush()
    log.info("invoice.debtor_language_set", invoice_id=invoice_id, language=language)
    return invoice


def import_invoice(session: Session, owner_id: int, data: bytes, filename: str) -> Invoice:
    """Store a Peppol BIS Billing 3.0 invoice for ``owner_id``, or raise and store nothing.

    Raises an ``InvoiceImportError`` for a file that fails a check, and
    ``InvoiceAlreadyImported`` when the owner already has this supplier's invoice number.
    """
    parsed = parse_invoice(data, filename, get_settings().max_upload_bytes)
    supplier_key = parsed.supplier.key

    guess = guess_debtor_language(parsed.customer.country, parsed.customer.postal_code)
    invoice = Invoice(
        owner_id=owner_id,
        source="imported",
        document_type=parsed.document_type,
        number=parsed.number,
        supplier_key=supplier_key,
        issue_date=parsed.issue_date,
        due_date=parsed.due_date,
        currency=parsed.currency,
        note=parsed.note,
        buyer_reference=parsed.buyer_reference,
        structured_communication=parsed.structured_communication,
        iban=parsed.iban,
        bic=parsed.bic,
        payment_terms=parsed.payment_terms,
        line_extension_amount=parsed.line_extension_amount,
        tax_exclusive_amount=parsed.tax_exclusive_amount,
        tax_amount=parsed.tax_amount,
        tax_inclusive_amount=parsed.tax_inclusive_amount,
        payable_amount=parsed.payable_amount,
        paid_amount=Decimal("0.00"),
        status=_imported_status(parsed),
        debtor_language=guess.language,
        debtor_language_source=guess.source,
        billing_reference=parsed.billing_reference,
        billing_reference_date=parsed.billing_reference_date,
        delivery_date=parsed.delivery_date,
    )
    try:
        # The unique constraint decides, so that of two concurrent imports exactly one wins.
        # The insert is the first statement, so that SQLite takes its write lock before any
        # read, and the savepoint leaves the caller's transaction usable after a duplicate.
        with session.begin_nested():
            session.add(invoice)
            session.flush()
    except IntegrityError:
        _raise_if_imported(session, owner_id, supplier_key, parsed)
        raise

    session.add_all(
        InvoiceParty(invoice_id=invoice.id, **_fields(party, InvoiceParty))
        for party in (parsed.supplier, parsed.customer)
    )
    session.add_all(
        InvoiceLine(invoice_id=invoice.id, **_fields(line, InvoiceLine)) for line in parsed.lines
    )
    session.add_all(
        InvoiceTaxSubtotal(invoice_id=invoice.id, **_fields(subtotal, InvoiceTaxSubtotal))
        for subtotal in parsed.tax_subtotals
    )
    record_timeline(session, invoice.id, "imported", filename=display_filename(filename),
                    language=guess.language, language_source=guess.source)
    if parsed.is_credit_note:
        _credit_imported_invoice(session, invoice)
    session.flush()
    log.info("invoice.imported", invoice_id=invoice.id, owner_id=owner_id, lines=len(parsed.lines),
             document_type=parsed.document_type)
    return invoice


def _imported_status(parsed: ParsedInvoice) -> str:
    if parsed.is_credit_note:
        return "issued"
    return "open" if parsed.payable_amount > 0 else "paid"


def _credit_imported_invoice(session: Session, credit_note: Invoice) -> None:
    """Lower the amount due of the invoice an imported credit note corrects, when the owner
    imported that invoice too, so that it is not chased for the credited amount."""
    if not credit_note.billing_reference:
        return
    original = session.exec(
        select(Invoice).where(Invoice.owner_id == credit_note.owner_id,
                              Invoice.supplier_key == credit_note.supplier_key,
                              Invoice.number == credit_note.billing_reference,
                              Invoice.document_type == "invoice")
    ).first()
    if original is None:
        return
    credit_note.credited_invoice_id = original.id
    original.credited_amount += credit_note.payable_amount
    if original.status == "open" and original.amount_due <= 0:
        original.status = "credited"
    session.add_all([credit_note, original])
    record_timeline(session, original.id, "credited", credit_note=credit_note.number,
                    amount=credit_note.payable_amount)


def _raise_if_imported(session: Session, owner_id: int, supplier_key: str, parsed: ParsedInvoice) -> None:
    existing = session.exec(
        select(Invoice.id).where(
            Invoice.owner_id == owner_id, Invoice.supplier_key == supplier_key, Invoice.number == parsed.number
        )
    ).first()
    if existing is not None:
        raise errors.InvoiceAlreadyImported(number=parsed.number, supplier=parsed.supplier.name)


def _fields(parsed: Any, model: type) -> dict[str, Any]:
    """Return the attributes of a parsed dataclass that are columns of ``model``."""
    columns = model.__table__.columns.keys()
    return {name: getattr(parsed, name) for name in parsed.__dataclass_fields__ if name in columns}


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value

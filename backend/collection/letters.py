"""The reminder letter as a PDF, in the language the letter was issued in.

The layout fits a DL window envelope with the window on the right: the debtor's address
sits 50 mm from the top and 110 mm from the left edge of an A4 sheet folded in three.
"""

from __future__ import annotations

import re

import segno
import structlog
from babel import Locale
from sqlmodel import Session, select
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from backend.collection.figures import ReminderFigures, reminder_figures
from backend.collection.models import ReminderLetter, StepClaim
from backend.core.time import to_brussels
from backend.invoicing import service as invoicing
from backend.invoicing.epc import epc_payload
from backend.invoicing.formatting import format_enterprise_number, format_iban
from backend.web.i18n import LOCALES, gettext_for
from backend.web.templating import render_text

log = structlog.get_logger(__name__)

TEMPLATE = "collection/letter.html"
# The EPC guideline fixes error correction level M.
QR_ERROR_LEVEL = "m"


def payment_qr_data_uri(contact: invoicing.DebtorContact, language: str) -> str | None:
    """Return the EPC payment QR code as an SVG data URI, or None when it cannot be made.

    An EPC code pays euro only, and needs an amount of at least one cent.
    """
    if contact.currency != "EUR" or contact.amount_due <= 0:
        return None
    digits = contact.structured_communication_digits
    text = None if digits else gettext_for(language)("Invoice {number}").format(number=contact.invoice_number)
    payload = epc_payload(
        name=contact.creditor_name,
        iban=contact.iban,
        bic=contact.bic,
        amount=contact.amount_due,
        structured_reference=digits,
        text=text[:140] if text else None,
    )
    qr = segno.make(payload, error=QR_ERROR_LEVEL, mode="byte", boost_error=False)
    return qr.svg_data_uri(scale=4, border=0)


def country_name(code: str | None, language: str) -> str | None:
    if not code:
        return None
    return Locale.parse(LOCALES[language]).territories.get(code.upper(), code.upper())


def render_letter_html(session: Session, letter: ReminderLetter) -> str:
    detail = invoicing.get_invoice_detail(session, letter.owner_id, letter.invoice_id)
    contact = invoicing.debtor_contact(session, letter.invoice_id)
    supplier, customer = detail.supplier, detail.customer
    language = letter.language
    # Postal rules: the country is written only when the letter crosses a border.
    foreign = customer.country and supplier.country and customer.country != supplier.country
    return render_text(
        TEMPLATE,
        language,
        figures=_figures(session, letter),
        lines=detail.lines,
        letter=letter,
        invoice=detail.invoice,
        contact=contact,
        supplier=supplier,
        customer=customer,
        supplier_country=country_name(supplier.country, language) if foreign else None,
        customer_country=country_name(customer.country, language) if foreign else None,
        qr_data_uri=payment_qr_data_uri(contact, language),
        format_iban=format_iban,
        format_enterprise_number=format_enterprise_number,
    )


def _figures(session: Session, letter: ReminderLetter) -> ReminderFigures:
    """Return the figures the letter states, computed on the day it was issued."""
    step = "formal_notice" if letter.kind == "formal_notice" else "letter"
    claim = session.exec(select(StepClaim).where(StepClaim.invoice_id == letter.invoice_id,
                                                 StepClaim.step == step)).first()
    issued_on = to_brussels(letter.issued_at).date()
    return reminder_figures(session, letter.invoice_id, issued_on, pay_by=claim.pay_by if claim else None)


def render_letter_pdf(session: Session, letter: ReminderLetter) -> bytes:
    html = render_letter_html(session, letter)
    # Only embedded data: URLs load, so that nothing in a letter reaches the network or disk.
    fetcher = URLFetcher(allowed_protocols={"data"}, timeout=1)
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf()
    log.info("letter.rendered", letter_id=letter.id, language=letter.language, size=len(pdf))
    return pdf


def letter_filename(invoice_number: str, letter_id: int) -> str:
    """Return a file name for the download, safe in a Content-Disposition header."""
    safe_number = re.sub(r"[^A-Za-z0-9._-]+", "-", invoice_number).strip("-")[:60] or "invoice"
    return f"reminder-{safe_number}-{letter_id}.pdf"


def render_batch_pdf(session: Session, letters: list[ReminderLetter]) -> bytes:
    """Render several letters into one PDF, one after the other, for the day's printing."""
    fetcher = URLFetcher(allowed_protocols={"data"}, timeout=1)
    documents = [HTML(string=render_letter_html(session, letter), url_fetcher=fetcher).render() for letter in letters]
    pages = [page for document in documents for page in document.pages]
    pdf = documents[0].copy(pages).write_pdf()
    log.info("letters.batch_rendered", letters=len(letters), pages=len(pages), size=len(pdf))
    return pdf

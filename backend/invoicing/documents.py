"""The PDF of an invoice or credit note, in the customer's language, and its payment QR code.

Weasyprint renders ``templates/invoice_pdf.html``. The customer's address sits where the
window of a DL envelope shows it (50 mm from the top, 110 mm from the left edge), as on
the reminder letters, so an invoice can go by post too. Every amount on the PDF is a
stored amount, formatted for the customer's language: the PDF agrees with the UBL file.
"""

from __future__ import annotations

import re
from decimal import Decimal

import segno
import structlog
from babel import Locale
from babel.numbers import format_currency
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from backend.core.money import CENT
from backend.invoicing import vat
from backend.invoicing.epc import epc_payload
from backend.invoicing.formatting import (
    category_label,
    format_enterprise_number,
    format_iban,
    unit_label,
)
from backend.invoicing.models import Invoice
from backend.invoicing.service import InvoiceDetail
from backend.invoicing.structured_communication import format_digits
from backend.web.i18n import LOCALES, gettext_for, ngettext_for
from backend.web.templating import render_text

log = structlog.get_logger(__name__)

TEMPLATE = "invoicing/invoice_pdf.html"
# The EPC guideline (EPC069-12) fixes error correction level M.
QR_ERROR_LEVEL = "m"


def payment_qr_payload(invoice: Invoice, creditor_name: str) -> str | None:
    """Return the EPC QR payload that pays the invoice's amount, or None when nothing is to be paid.

    The amount is the payable amount as issued, so that the document never changes. The
    structured communication's 12 digits go in the structured-reference element and the
    free text stays empty; without a structured communication the invoice number is the text.
    """
    amount = invoice.payable_amount
    if invoice.is_draft or invoice.is_credit_note or invoice.currency != "EUR" or amount <= 0:
        return None
    digits = invoice.structured_communication
    return epc_payload(
        name=creditor_name,
        iban=invoice.iban,
        bic=invoice.bic,
        amount=amount,
        structured_reference=digits,
        text=None if digits else invoice.number,
    )


def format_price(amount: Decimal, language: str, currency: str = "EUR") -> str:
    """Format a unit price with two decimals, or up to four when it has them (7,2025 €)."""
    value = amount.normalize()
    if value.as_tuple().exponent > -2:
        value = amount.quantize(CENT)
    return format_currency(value, currency, locale=LOCALES[language], decimal_quantization=False)


def qr_data_uri(payload: str) -> str:
    qr = segno.make(payload, error=QR_ERROR_LEVEL, mode="byte", boost_error=False)
    return qr.svg_data_uri(scale=4, border=0)


def country_name(code: str | None, language: str) -> str | None:
    if not code:
        return None
    return Locale.parse(LOCALES[language]).territories.get(code.upper(), code.upper())


def document_language(detail: InvoiceDetail) -> str:
    """Return the customer's language, which the PDF, the e-mail and the mentions use."""
    return detail.invoice.debtor_language


def render_invoice_html(detail: InvoiceDetail, language: str | None = None) -> str:
    invoice, supplier, customer = detail.invoice, detail.supplier, detail.customer
    language = language or document_language(detail)
    gettext = gettext_for(language)
    payload = payment_qr_payload(invoice, supplier.registration_name or supplier.name)
    foreign = bool(customer.country and supplier.country and customer.country != supplier.country)
    return render_text(
        TEMPLATE,
        language,
        invoice=invoice,
        supplier=supplier,
        customer=customer,
        lines=detail.lines,
        subtotals=detail.tax_subtotals,
        mention=vat.mention(invoice.vat_scheme, language) if invoice.vat_scheme else _imported_mention(detail),
        customer_country=country_name(customer.country, language) if foreign else None,
        supplier_country=country_name(supplier.country, language) if foreign else None,
        structured_communication=format_digits(invoice.structured_communication)
        if invoice.structured_communication else None,
        qr_data_uri=qr_data_uri(payload) if payload else None,
        business_customer=bool(customer.vat_number or customer.enterprise_number),
        unit_label=lambda code, quantity=None: unit_label(code, gettext, quantity, ngettext_for(language)),
        category_label=lambda category: category_label(category, gettext),
        price=lambda amount: format_price(amount, language, invoice.currency),
        format_iban=format_iban,
        format_enterprise_number=format_enterprise_number,
    )


def _imported_mention(detail: InvoiceDetail) -> str | None:
    reasons = [item.exemption_reason for item in detail.tax_subtotals if item.exemption_reason]
    return " ".join(dict.fromkeys(reasons)) or None


def render_invoice_pdf(detail: InvoiceDetail, language: str | None = None) -> bytes:
    """Render the document to PDF. Only embedded data: URLs load, nothing from disk or network."""
    html = render_invoice_html(detail, language)
    fetcher = URLFetcher(allowed_protocols={"data"}, timeout=1)
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf()
    log.info("invoice.rendered", invoice_id=detail.invoice.id, language=language or document_language(detail),
             size=len(pdf))
    return pdf


def pdf_filename(invoice: Invoice) -> str:
    """Return a download name such as ``invoice-2026-0001.pdf``, safe in a header."""
    kind = "credit-note" if invoice.is_credit_note else "invoice"
    label = invoice.number or f"draft-{invoice.id}"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")[:60]
    return f"{kind}-{safe}.pdf"

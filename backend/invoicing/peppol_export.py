"""Peppol BIS Billing 3.0 files (UBL 2.1 Invoice and CreditNote) of issued documents.

Elements are written in the order the UBL 2.1 schemas require. Amounts carry two decimals
and ``currencyID``; they are the stored amounts, so the file agrees with the PDF and the
books to the cent. A credit note states its amounts as positive figures, as UBL credit notes
do, and references the invoice it corrects in ``cac:BillingReference``.

Peppol requires a buyer reference or an order reference (PEPPOL-EN16931-R003). When the
customer gave none, the invoice number is written in its place, and the import maps it back.
"""

from __future__ import annotations

import re
from decimal import Decimal

from lxml import etree

from backend.invoicing.models import Invoice, InvoiceLine, InvoiceParty, InvoiceTaxSubtotal
from backend.invoicing.service import InvoiceDetail
from backend.invoicing.structured_communication import format_digits

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
# UNCL1001 document type codes.
COMMERCIAL_INVOICE = "380"
CREDIT_NOTE = "381"
# UNCL4461: 30 is a credit transfer.
CREDIT_TRANSFER = "30"


class ExportError(ValueError):
    """A document that cannot be written as a Peppol file, such as a draft."""


def _cbc(parent: etree._Element, tag: str, text: object, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CBC}}}{tag}", attributes)
    element.text = str(text)
    return element


def _cac(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{tag}")


def _amount(parent: etree._Element, name: str, amount: Decimal, currency: str) -> None:
    _cbc(parent, name, f"{amount:.2f}", currencyID=currency)


def _number(value: Decimal) -> str:
    """Write a quantity or a rate without exponent and without trailing zeros."""
    return format(value.normalize(), "f")


def _price(value: Decimal) -> str:
    """Write a unit price with two to four decimals, so that 7.2025 keeps its last digits."""
    text = format(value.quantize(Decimal("0.0001")), "f")
    while text.endswith("0") and len(text.partition(".")[2]) > 2:
        text = text[:-1]
    return text


def export_ubl(detail: InvoiceDetail) -> bytes:
    """Return the Peppol BIS Billing 3.0 XML of an issued invoice or credit note."""
    invoice = detail.invoice
    if invoice.is_draft or invoice.number is None:
        raise ExportError(f"invoice {invoice.id} is a draft: issue it before exporting it")
    credit = invoice.is_credit_note
    namespace = CREDIT_NOTE_NS if credit else INVOICE_NS
    root = etree.Element(f"{{{namespace}}}{'CreditNote' if credit else 'Invoice'}",
                         nsmap={None: namespace, "cac": CAC, "cbc": CBC})
    currency = invoice.currency

    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", invoice.number)
    _cbc(root, "IssueDate", invoice.issue_date.isoformat())
    if not credit:
        _cbc(root, "DueDate", invoice.due_date.isoformat())
        _cbc(root, "InvoiceTypeCode", COMMERCIAL_INVOICE)
    else:
        _cbc(root, "CreditNoteTypeCode", CREDIT_NOTE)
    if invoice.note:
        _cbc(root, "Note", invoice.note)
    _cbc(root, "DocumentCurrencyCode", currency)
    _cbc(root, "BuyerReference", invoice.buyer_reference or invoice.number)
    if invoice.billing_reference:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", invoice.billing_reference)
        if invoice.billing_reference_date:
            _cbc(reference, "IssueDate", invoice.billing_reference_date.isoformat())

    _party(_cac(root, "AccountingSupplierParty"), detail.supplier)
    _party(_cac(root, "AccountingCustomerParty"), detail.customer)
    if invoice.delivery_date is not None:
        delivery = _cac(root, "Delivery")
        _cbc(delivery, "ActualDeliveryDate", invoice.delivery_date.isoformat())
        if detail.customer.country:
            address = _cac(_cac(delivery, "DeliveryLocation"), "Address")
            _cbc(_cac(address, "Country"), "IdentificationCode", detail.customer.country)
    _payment(root, invoice, detail.supplier)

    tax_total = _cac(root, "TaxTotal")
    _amount(tax_total, "TaxAmount", invoice.tax_amount, currency)
    for subtotal in detail.tax_subtotals:
        _tax_subtotal(tax_total, subtotal, currency)

    totals = _cac(root, "LegalMonetaryTotal")
    _amount(totals, "LineExtensionAmount", invoice.line_extension_amount, currency)
    _amount(totals, "TaxExclusiveAmount", invoice.tax_exclusive_amount, currency)
    _amount(totals, "TaxInclusiveAmount", invoice.tax_inclusive_amount, currency)
    _amount(totals, "PayableAmount", invoice.payable_amount, currency)

    for line in detail.lines:
        _line(root, line, currency, credit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _party(parent: etree._Element, party: InvoiceParty) -> None:
    element = _cac(parent, "Party")
    if party.endpoint_scheme and party.endpoint_id:
        _cbc(element, "EndpointID", party.endpoint_id, schemeID=party.endpoint_scheme)
    if party.enterprise_number and (party.country or "BE") == "BE":
        _cbc(_cac(element, "PartyIdentification"), "ID", party.enterprise_number, schemeID="0208")
    _cbc(_cac(element, "PartyName"), "Name", party.name)

    address = _cac(element, "PostalAddress")
    for name, value in (("StreetName", party.street), ("AdditionalStreetName", party.additional_street),
                        ("CityName", party.city), ("PostalZone", party.postal_code)):
        if value:
            _cbc(address, name, value)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.country or "BE")

    if party.vat_number:
        tax_scheme = _cac(element, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", party.vat_number)
        _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(element, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.registration_name or party.name)
    if party.enterprise_number and (party.country or "BE") == "BE":
        _cbc(legal, "CompanyID", party.enterprise_number, schemeID="0208")

    if party.contact_name or party.phone or party.email:
        contact = _cac(element, "Contact")
        if party.contact_name:
            _cbc(contact, "Name", party.contact_name)
        if party.phone:
            _cbc(contact, "Telephone", party.phone)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)


def _payment(root: etree._Element, invoice: Invoice, supplier: InvoiceParty) -> None:
    if not invoice.iban:
        return
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", CREDIT_TRANSFER, name="Credit transfer")
    if invoice.structured_communication and not invoice.is_credit_note:
        # The structured communication is written as Belgian banks print it.
        _cbc(means, "PaymentID", format_digits(invoice.structured_communication))
    account = _cac(means, "PayeeFinancialAccount")
    _cbc(account, "ID", invoice.iban)
    _cbc(account, "Name", supplier.registration_name or supplier.name)
    if invoice.bic:
        _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", invoice.bic)
    if invoice.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", invoice.payment_terms)


def _tax_subtotal(parent: etree._Element, subtotal: InvoiceTaxSubtotal, currency: str) -> None:
    element = _cac(parent, "TaxSubtotal")
    _amount(element, "TaxableAmount", subtotal.taxable_amount, currency)
    _amount(element, "TaxAmount", subtotal.tax_amount, currency)
    category = _cac(element, "TaxCategory")
    _cbc(category, "ID", subtotal.category)
    if subtotal.rate is not None:
        _cbc(category, "Percent", _number(subtotal.rate))
    if subtotal.exemption_reason_code:
        _cbc(category, "TaxExemptionReasonCode", subtotal.exemption_reason_code)
    if subtotal.exemption_reason:
        _cbc(category, "TaxExemptionReason", subtotal.exemption_reason)
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _line(root: etree._Element, line: InvoiceLine, currency: str, credit: bool) -> None:
    element = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(element, "ID", line.position)
    quantity_name = "CreditedQuantity" if credit else "InvoicedQuantity"
    _cbc(element, quantity_name, _number(line.quantity), unitCode=line.unit_code or "C62")
    _amount(element, "LineExtensionAmount", line.line_amount, currency)

    item = _cac(element, "Item")
    name, _newline, description = line.description.partition("\n")
    if description.strip():
        _cbc(item, "Description", description.strip())
    _cbc(item, "Name", name.strip())
    category = _cac(item, "ClassifiedTaxCategory")
    _cbc(category, "ID", line.vat_category)
    if line.vat_rate is not None:
        _cbc(category, "Percent", _number(line.vat_rate))
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")

    _cbc(_cac(element, "Price"), "PriceAmount", _price(line.unit_price), currencyID=currency)


def ubl_filename(invoice: Invoice) -> str:
    """Return a download name such as ``invoice-2026-0001.xml``, safe in a header."""
    kind = "credit-note" if invoice.is_credit_note else "invoice"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", invoice.number or str(invoice.id)).strip("-")[:60]
    return f"{kind}-{safe}.xml"

"""Errors of the invoicing domain. Each message is an English msgid with ``{name}`` fields,
translated in ``locales/<lang>.po``; import errors name the element and the value."""

from __future__ import annotations

from backend.core.errors import Conflict, InvalidInput, NotFound

EXPORT_AGAIN = "Correct it in your invoicing tool and export the invoice again."


class InvoiceNotFound(NotFound):
    message = "Invoice {invoice_id} was not found."


class InvoiceAlreadyImported(Conflict):
    message = "Invoice {number} from {supplier} is already imported. Open it from your invoice list."


class UnsupportedDebtorLanguage(InvalidInput):
    message = "Unknown language {language}: choose fr, nl or en."


class InvoiceImportError(InvalidInput):
    """A Peppol file that cannot be imported. Nothing of it is stored."""

    status_code = 422
    message = "The invoice file cannot be imported."


class EmptyFile(InvoiceImportError):
    message = "The file {filename} is empty. Choose the XML file of a Peppol BIS Billing 3.0 invoice."


class FileTooLarge(InvoiceImportError):
    message = (
        "The file {filename} is {size} bytes, over the limit of {limit} bytes. "
        "Import one invoice per file, without embedded attachments."
    )


class MalformedXml(InvoiceImportError):
    message = (
        "The file {filename} is not well-formed XML: {reason} (line {line}). "
        "Export the invoice again from your invoicing tool as a Peppol BIS Billing 3.0 UBL file."
    )


class DoctypeNotAllowed(InvoiceImportError):
    message = (
        "The file {filename} contains a DOCTYPE declaration, which UBL invoices never contain and "
        "which is rejected for safety. Export the invoice again without it."
    )


class NotAnInvoice(InvoiceImportError):
    message = (
        "The file {filename} is not a UBL invoice: its root element is {element}. "
        "Import a Peppol BIS Billing 3.0 invoice, whose root element is Invoice."
    )


class CreditNoteNotSupported(InvoiceImportError):
    message = (
        "The file {filename} is a credit note ({number}), not an invoice. "
        "Credit notes are not imported yet: import invoices only."
    )


class UnsupportedCustomization(InvoiceImportError):
    message = (
        "The element cbc:CustomizationID has the value {value}, which is not based on EN 16931. "
        "Export the invoice as Peppol BIS Billing 3.0."
    )


class MissingElement(InvoiceImportError):
    message = (
        "The mandatory element {element} is missing. "
        "Add it in your invoicing tool and export the invoice again."
    )


class InvalidDate(InvoiceImportError):
    message = "The element {element} has the invalid date {value}: write it as YYYY-MM-DD. " + EXPORT_AGAIN


class InvalidNumber(InvoiceImportError):
    message = (
        "The element {element} has the invalid number {value}: write digits with a dot "
        "before the decimals, such as 1234.50. " + EXPORT_AGAIN
    )


class TooManyDecimals(InvoiceImportError):
    message = "The element {element} has the value {value}, with more than {places} decimals. " + EXPORT_AGAIN


class InvalidCurrency(InvoiceImportError):
    message = "The element {element} has the invalid currency code {value}: use an ISO 4217 code such as EUR. " + EXPORT_AGAIN


class CurrencyMismatch(InvoiceImportError):
    message = (
        "The element {element} is in {value}, but the invoice is in {currency} "
        "(cbc:DocumentCurrencyCode). " + EXPORT_AGAIN
    )


class InvalidIban(InvoiceImportError):
    message = "The element {element} has the invalid IBAN {value}: check its digits. " + EXPORT_AGAIN


class InvalidBic(InvoiceImportError):
    message = "The element {element} has the invalid BIC {value}: a BIC has 8 or 11 letters and digits. " + EXPORT_AGAIN


class InvalidEnterpriseNumber(InvoiceImportError):
    message = (
        "The element {element} has the invalid Belgian enterprise number {value}: it has 10 digits, "
        "and the last two are 97 minus the first eight modulo 97. " + EXPORT_AGAIN
    )


class InvalidVatNumber(InvoiceImportError):
    message = (
        "The element {element} has the invalid Belgian VAT number {value}: write BE and the 10 digits "
        "of the enterprise number. " + EXPORT_AGAIN
    )


class InvalidStructuredCommunication(InvoiceImportError):
    message = (
        "The element {element} has the structured communication {value}, whose check digits are "
        "wrong (they should be {expected}). Check the number in your invoicing tool and export the "
        "invoice again."
    )


class MalformedStructuredCommunication(InvoiceImportError):
    message = (
        "The element {element} has the value {value}, which is not a structured communication: "
        "write it as +++ddd/dddd/ddddd+++ or 12 digits. " + EXPORT_AGAIN
    )


class NoInvoiceLines(InvoiceImportError):
    message = "The invoice has no cac:InvoiceLine. An invoice needs at least one line. " + EXPORT_AGAIN


class LineAmountMismatch(InvoiceImportError):
    message = (
        "The element {element} is {value}, but quantity {quantity} times price {price} "
        "makes {expected}. " + EXPORT_AGAIN
    )


class LineTotalMismatch(InvoiceImportError):
    message = (
        "The element cac:LegalMonetaryTotal/cbc:LineExtensionAmount is {value}, but the invoice "
        "lines add up to {expected}. " + EXPORT_AGAIN
    )


class TaxExclusiveMismatch(InvoiceImportError):
    message = (
        "The element cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount is {value}, but the lines "
        "({lines}) minus allowances ({allowances}) plus charges ({charges}) make {expected}. "
        + EXPORT_AGAIN
    )


class TaxSubtotalMismatch(InvoiceImportError):
    message = (
        "The element cac:TaxTotal/cbc:TaxAmount is {value}, but the VAT breakdown "
        "(cac:TaxSubtotal) adds up to {expected}. " + EXPORT_AGAIN
    )


class TaxRateMismatch(InvoiceImportError):
    message = (
        "The element {element} is {value}, but {rate} % of the taxable amount {taxable} "
        "makes {expected}. " + EXPORT_AGAIN
    )


class TaxInclusiveMismatch(InvoiceImportError):
    message = (
        "The element cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount is {value}, but the total "
        "without VAT ({exclusive}) plus the VAT ({tax}) makes {expected}. " + EXPORT_AGAIN
    )


class PayableMismatch(InvoiceImportError):
    message = (
        "The element cac:LegalMonetaryTotal/cbc:PayableAmount is {value}, but the total with VAT "
        "({inclusive}) minus the amount already paid ({prepaid}) plus rounding ({rounding}) "
        "makes {expected}. " + EXPORT_AGAIN
    )


class ValueTooLong(InvoiceImportError):
    message = "The element {element} is {length} characters long, over the limit of {limit}. " + EXPORT_AGAIN


class InvalidCountry(InvoiceImportError):
    message = (
        "The element {element} has the invalid country code {value}: use two letters of "
        "ISO 3166-1, such as BE. " + EXPORT_AGAIN
    )


class InvalidVatCategory(InvoiceImportError):
    message = (
        "The element {element} has the unknown VAT category {value}: use a UNCL5305 code "
        "such as S, Z, E or AE. " + EXPORT_AGAIN
    )


class AmountOutOfRange(InvoiceImportError):
    message = "The element {element} has the value {value}, beyond the largest amount accepted. " + EXPORT_AGAIN

"""Errors of the invoicing domain. Each message is an English msgid with ``{name}`` fields,
translated in ``locales/<lang>.po``; import errors name the element and the value."""

from __future__ import annotations

from backend.core.errors import Conflict, IkkiError, InvalidInput, NotFound

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
        "Import a Peppol BIS Billing 3.0 invoice or credit note, whose root element is Invoice or CreditNote."
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


class NoCreditNoteLines(InvoiceImportError):
    message = "The credit note has no cac:CreditNoteLine. A credit note needs at least one line. " + EXPORT_AGAIN


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


# Business details, customers, drafts and issuing.


class BusinessProfileMissing(Conflict):
    message = "Fill in your business details first: they appear on every invoice you issue."


class CustomerNotFound(NotFound):
    message = "Customer {customer_id} was not found."


class CustomerRequired(InvalidInput):
    message = "Choose the customer of the invoice, or add one first."


class ClientCompanyNotFound(NotFound):
    message = "The client company of contract {contract_id} was not found, so the invoice has no customer."


class MissingName(InvalidInput):
    message = "The name is missing: write the name of the business or the person."


class MissingAddress(InvalidInput):
    message = "The address is incomplete: write the street and number, the postal code and the city."


class InvalidEnterpriseNumberEntry(InvalidInput):
    message = (
        "Invalid enterprise number {value}: it has 10 digits, and the last two are 97 minus "
        "the first eight modulo 97."
    )


class InvalidVatNumberEntry(InvalidInput):
    message = "Invalid VAT number {value}: write the country code and the number, such as BE0478123490."


class VatNumberNotEnterpriseNumber(InvalidInput):
    message = "The Belgian VAT number {vat_number} must be BE followed by the enterprise number {enterprise_number}."


class InvalidIbanEntry(InvalidInput):
    message = "Invalid IBAN {value}: check its digits."


class InvalidBicEntry(InvalidInput):
    message = "Invalid BIC {value}: a BIC has 8 or 11 letters and digits."


class UnknownBic(InvalidInput):
    message = "The BIC of the IBAN {iban} is unknown: fill in the BIC of your bank."


class InvalidCountryEntry(InvalidInput):
    message = "Invalid country code {value}: use two letters of ISO 3166-1, such as BE."


class InvalidPostalCode(InvalidInput):
    message = "Invalid Belgian postal code {value}: it has four digits."


class InvalidEmailEntry(InvalidInput):
    message = "Invalid e-mail address {value}: write it as name@example.be."


class InvalidChoice(InvalidInput):
    message = "Invalid value {value}: choose one of {choices}."


class InvalidPaymentTerm(InvalidInput):
    message = "Invalid payment term {value}: write a number of days from 0 to 120."


class VatNumberRequired(InvalidInput):
    message = (
        "Fill in your VAT number, BE followed by your enterprise number. Small businesses under "
        "the exemption scheme have one too."
    )


class InvoiceNotDraft(Conflict):
    message = "Invoice {number} is issued and can no longer change. Correct it with a credit note."


class NoLines(InvalidInput):
    message = "Add at least one line with a description, a quantity and a unit price."


class NegativeInvoiceTotal(InvalidInput):
    message = ("The invoice total is {amount}, below zero. To refund or correct an invoice, "
               "issue a credit note from that invoice instead.")


class MissingLineDescription(InvalidInput):
    message = "Line {position} has no description: say what you delivered."


class LineDescriptionTooLong(InvalidInput):
    message = "The description of line {position} is too long: write at most {limit} characters."


class TooManyLines(InvalidInput):
    message = "An invoice has at most {limit} lines here. Split it into several invoices."


class InvalidQuantity(InvalidInput):
    message = "Invalid quantity {value} on line {position}: write a number with at most 4 decimals, such as 7.5."


class InvalidUnitPrice(InvalidInput):
    message = "Invalid unit price {value} on line {position}: write an amount with at most 4 decimals, such as 75.00."


class InvalidVatRate(InvalidInput):
    message = "Invalid VAT rate {value} on line {position}: choose 21, 12, 6 or 0 %."


class UnknownUnitCode(InvalidInput):
    message = "Unknown unit {value} on line {position}: choose hours, days, pieces or a lump sum."


class InvalidDateEntry(InvalidInput):
    message = "Invalid date {value}: write it as YYYY-MM-DD."


class ReverseChargeNeedsVatNumber(InvalidInput):
    message = (
        "A reverse charge needs the customer's VAT number on the invoice. "
        "Add it to customer {customer}."
    )


class IntraEuNeedsForeignVatNumber(InvalidInput):
    message = (
        "Customer {customer} has no VAT number from another EU country, so the supply is taxed "
        "in Belgium: choose Belgian VAT."
    )


class DeliveryDateRequired(InvalidInput):
    message = "Goods shipped to another EU country need the delivery date on the invoice."


class SmallBusinessSchemeOnly(InvalidInput):
    message = (
        "Your business uses the small business exemption scheme, so it charges no VAT: "
        "choose that scheme for every invoice."
    )


class SmallBusinessSchemeNotYours(InvalidInput):
    message = "Only a business under the small business exemption scheme may issue invoices without VAT this way."


class CustomerWithoutElectronicAddress(InvalidInput):
    message = (
        "Customer {customer} has no enterprise number, no VAT number and no e-mail address, so the "
        "e-invoice would have no recipient address. Add one of them to the customer."
    )


class NumberAlreadyUsed(Conflict):
    message = (
        "Number {number} is already used by an imported invoice of your business. "
        "Set a number prefix in your business details so that the two series never meet."
    )


class CreditNoteTooLarge(InvalidInput):
    message = (
        "The credit note totals {amount}, more than the {remaining} still credited on invoice "
        "{number}. Lower its lines."
    )


class NotCreditable(Conflict):
    message = "Only an issued invoice can be credited, and invoice {number} is not one."


class NothingToSend(Conflict):
    message = "A draft cannot be sent: issue it first."


class NoUblForDraft(Conflict):
    message = "A draft has no e-invoice file yet: issue it first."


class NoUblForImported(Conflict):
    message = "Invoice {number} was imported: its e-invoice file is the one you imported."


class NotSendable(Conflict):
    message = "Invoice {number} was imported: the tool that issued it sends it to the customer."


class CustomerHasNoEmail(InvalidInput):
    message = "Customer {customer} has no e-mail address. Add one, then send the invoice again."


class PeppolProviderFailed(IkkiError):
    status_code = 502
    message = "The Peppol access point rejected invoice {number}: {reason}"

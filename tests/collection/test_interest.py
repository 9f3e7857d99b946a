"""Late-payment interest under the law of 2 August 2002: periods split where the rate changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backend.collection import interest
from backend.collection.interest import MissingLatePaymentRate, compute_interest
from backend.core.db import session_scope
from backend.core.errors import InvalidInput

RATES = {
    date(2025, 1, 1): Decimal("8.00"),
    date(2025, 7, 1): Decimal("10.00"),
    date(2026, 1, 1): Decimal("12.00"),
    date(2023, 7, 1): Decimal("12.00"),
    date(2024, 1, 1): Decimal("12.50"),
    date(2024, 7, 1): Decimal("12.50"),
}


def test_rate_change_on_1_july():
    # Due 31 May: interest runs from 1 June to 31 July, 30 days at 8 % then 31 days at 10 %.
    calculation = compute_interest(Decimal("1000.00"), date(2025, 5, 31), date(2025, 7, 31), RATES)

    assert [(period.start, period.end, period.days, period.rate) for period in calculation.periods] == [
        (date(2025, 6, 1), date(2025, 6, 30), 30, Decimal("8.00")),
        (date(2025, 7, 1), date(2025, 7, 31), 31, Decimal("10.00")),
    ]
    assert [period.amount for period in calculation.periods] == [Decimal("6.58"), Decimal("8.49")]
    assert calculation.interest == Decimal("15.07")


def test_across_1_january():
    # 2,500.00 € from 1 December 2025 to 31 January 2026: 31 days at 10 %, 31 days at 12 %.
    calculation = compute_interest(Decimal("2500.00"), date(2025, 11, 30), date(2026, 1, 31), RATES)

    assert [(period.days, period.rate, period.amount) for period in calculation.periods] == [
        (31, Decimal("10.00"), Decimal("21.23")),  # 2500 × 0.10 × 31/365 = 21.2329
        (31, Decimal("12.00"), Decimal("25.48")),  # 2500 × 0.12 × 31/365 = 25.4795
    ]
    assert calculation.interest == Decimal("46.71")


def test_leap_year_counts_29_february_over_365():
    # 2024 is a leap year; 1 to 29 February is 29 days, each at rate/365 (actual/365 fixed).
    calculation = compute_interest(Decimal("1000.00"), date(2024, 1, 31), date(2024, 2, 29), RATES)

    assert calculation.days == 29
    assert calculation.interest == Decimal("9.93")  # 1000 × 0.125 × 29/365 = 9.9315
    whole_year = compute_interest(Decimal("1000.00"), date(2023, 12, 31), date(2024, 12, 31), RATES)
    assert whole_year.days == 366
    assert whole_year.interest == Decimal("125.34")  # 182 + 184 days: 62.33 + 63.01


def test_no_interest_on_due_date():
    calculation = compute_interest(Decimal("1000.00"), date(2025, 6, 30), date(2025, 6, 30), RATES)
    assert calculation.periods == ()
    assert calculation.interest == Decimal("0.00")


def test_missing_half_year_rate_raises():
    with pytest.raises(MissingLatePaymentRate, match="2022-07-01"):
        compute_interest(Decimal("1000.00"), date(2022, 7, 10), date(2022, 8, 1), RATES)


def test_seeded_rates_and_staff_edit(db_engine):
    with session_scope(db_engine) as session:
        assert interest.seed_published_rates(session) == len(interest.PUBLISHED_RATES)
        assert interest.seed_published_rates(session) == 0
        interest.save_rate(session, date(2026, 7, 1), Decimal("10.25"), "Moniteur belge")
    with session_scope(db_engine, write_lock=False) as session:
        rates = interest.load_rates(session)
        sources = {row.starts_on: row.source for row in interest.list_rates(session)}
    assert rates[date(2024, 1, 1)] == Decimal("12.50")
    assert rates[date(2025, 1, 1)] == Decimal("11.50")
    assert rates[date(2025, 7, 1)] == Decimal("10.50")
    assert rates[date(2026, 7, 1)] == Decimal("10.25")
    assert "https://" in sources[date(2024, 1, 1)]


def test_rate_must_start_a_half_year(db_engine):
    with session_scope(db_engine) as session, pytest.raises(InvalidInput):
        interest.save_rate(session, date(2026, 3, 1), Decimal("10.00"), "x")

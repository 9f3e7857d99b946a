"""Late-payment interest and the flat compensation for business debtors (law of 2 August 2002).

Interest runs without notice from the day after the due date, at the rate of each half-year,
split exactly where the rate changes. Day count: actual days over 365, also in a leap year,
so that 29 February earns one day of interest at rate/365 like any other day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import structlog
from sqlmodel import Session, select

from backend.collection.models import LatePaymentRate
from backend.core.errors import Conflict, InvalidInput
from backend.core.time import utcnow

log = structlog.get_logger(__name__)

DAYS_PER_YEAR = Decimal(365)
# Late Payment Act, art. 6: flat compensation for recovery costs, without notice.
FLAT_COMPENSATION = Decimal("40.00")

_FPS_2024_2025 = ("FPS Finance notice under art. 5 of the law of 2 August 2002, as reported by Schoups "
                  "(https://leuropeinfo.eu/?p=1197): 12.5 % for both halves of 2024, 11.5 % for 2025/1")
_FPS_2025_2026 = ("FPS Finance notice under art. 5 of the law of 2 August 2002, as reported by Embuild "
                  "(https://embuild.be/fr/actualit%C3%A9s/le-retard-de-paiement-le-taux-dint%C3%A9r%C3%AAt-applicable-en-2026): "
                  "10.50 % for 2025/2, announced unchanged for 2026/1 before its publication")
# Published rates since 2024, in percent per year.
# TODO: staff enter each later half-year on the rates page once the Moniteur belge publishes it.
PUBLISHED_RATES = (
    (date(2024, 1, 1), Decimal("12.50"), _FPS_2024_2025),
    (date(2024, 7, 1), Decimal("12.50"), _FPS_2024_2025),
    (date(2025, 1, 1), Decimal("11.50"), _FPS_2024_2025),
    (date(2025, 7, 1), Decimal("10.50"), _FPS_2025_2026),
    (date(2026, 1, 1), Decimal("10.50"), _FPS_2025_2026),
)


class MissingLatePaymentRate(Conflict):
    message = "No late-payment interest rate is recorded for the half-year starting {starts_on}. Staff must enter it first."


class InvalidHalfYear(InvalidInput):
    message = "A half-year starts on 1 January or 1 July, not on {starts_on}."


@dataclass(frozen=True)
class InterestPeriod:
    start: date
    end: date
    days: int
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InterestCalculation:
    principal: Decimal
    start: date
    end: date
    periods: tuple[InterestPeriod, ...]

    @property
    def interest(self) -> Decimal:
        return sum((period.amount for period in self.periods), Decimal("0.00"))

    @property
    def days(self) -> int:
        return sum(period.days for period in self.periods)


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def next_half_year(start: date) -> date:
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


def compute_interest(principal: Decimal, due_date: date, until: date,
                     rates: dict[date, Decimal]) -> InterestCalculation:
    """Compute the interest on ``principal`` from the day after ``due_date`` to ``until``, both included.

    ``rates`` maps the first day of each half-year to its percent rate. Each period's amount
    is rounded half up to the cent, so the shown periods add up to the total.
    Raises MissingLatePaymentRate for a half-year without a rate.
    """
    start = due_date + timedelta(days=1)
    periods: list[InterestPeriod] = []
    period_start = start
    while period_start <= until:
        semester = half_year_start(period_start)
        rate = rates.get(semester)
        if rate is None:
            raise MissingLatePaymentRate(starts_on=semester.isoformat())
        period_end = min(until, next_half_year(semester) - timedelta(days=1))
        days = (period_end - period_start).days + 1
        amount = (principal * rate * days / (100 * DAYS_PER_YEAR)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        periods.append(InterestPeriod(period_start, period_end, days, rate, amount))
        period_start = period_end + timedelta(days=1)
    return InterestCalculation(principal=principal, start=start, end=until, periods=tuple(periods))


def load_rates(session: Session) -> dict[date, Decimal]:
    return {row.starts_on: row.rate for row in session.exec(select(LatePaymentRate))}


def list_rates(session: Session) -> list[LatePaymentRate]:
    return list(session.exec(select(LatePaymentRate).order_by(LatePaymentRate.starts_on)))


def save_rate(session: Session, starts_on: date, rate: Decimal, source: str) -> LatePaymentRate:
    """Insert or correct the rate of one half-year, as staff enter it from the Moniteur belge."""
    if starts_on.day != 1 or starts_on.month not in (1, 7):
        raise InvalidHalfYear(starts_on=starts_on.isoformat())
    if not Decimal(0) <= rate < Decimal(100):
        raise InvalidInput("The rate must be a percentage between 0 and 100, not {rate}.", rate=rate)
    row = session.exec(select(LatePaymentRate).where(LatePaymentRate.starts_on == starts_on)).first()
    if row is None:
        row = LatePaymentRate(starts_on=starts_on, rate=rate, source=source)
    row.rate, row.source, row.updated_at = rate, source, utcnow()
    session.add(row)
    session.flush()
    log.info("interest.rate_saved", starts_on=starts_on.isoformat(), rate=str(rate))
    return row


def seed_published_rates(session: Session) -> int:
    """Insert the published rates that are missing; returns how many were inserted."""
    known = set(load_rates(session))
    added = 0
    for starts_on, rate, source in PUBLISHED_RATES:
        if starts_on not in known:
            session.add(LatePaymentRate(starts_on=starts_on, rate=rate, source=source))
            added += 1
    session.flush()
    return added

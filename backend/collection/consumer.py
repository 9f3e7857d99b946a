"""Consumer debtors: Book XIX of the Code of Economic Law, in force since 1 September 2023.

The first reminder is free and gives at least 14 days to pay. The period starts on the day
after an e-mail is sent, or on the third working day after a letter is posted. Only after it
may damages within the caps below and interest at most the Late Payment Act rate be charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import holidays

from backend.core.errors import InvalidInput

PAYMENT_PERIOD_DAYS = 14
CHANNELS = ("email", "post")

CAPS_SOURCE = ("Code of Economic Law, art. XIX.4, as summarised in "
               "https://ondernemershulp.riccyfocke.com/2023/08/31/actueel-de-nieuwe-wet-b2c-invorderen-gaat-in-vanaf-1-september-2023/")


@dataclass(frozen=True)
class DamagesBracket:
    """Maximum damages for a balance up to ``up_to`` (None: no upper bound)."""

    up_to: Decimal | None
    fixed: Decimal
    # Percent of the part of the balance above ``above``.
    percent: Decimal
    above: Decimal
    source: str = CAPS_SOURCE


DAMAGES_CAP_TOTAL = Decimal("2000.00")
DAMAGES_BRACKETS = (
    DamagesBracket(up_to=Decimal("150.00"), fixed=Decimal("20.00"), percent=Decimal(0), above=Decimal(0)),
    DamagesBracket(up_to=Decimal("500.00"), fixed=Decimal("30.00"), percent=Decimal(10), above=Decimal("150.00")),
    DamagesBracket(up_to=None, fixed=Decimal("65.00"), percent=Decimal(5), above=Decimal("500.00")),
)


class DamagesAboveCap(InvalidInput):
    message = ("Damages of {requested} € exceed the legal maximum of {cap} € for a consumer balance of "
               "{balance} € (Code of Economic Law, art. XIX.4).")


class DamagesTooEarly(InvalidInput):
    message = ("Damages may be charged to a consumer only after the payment period of the free first reminder, "
               "which ends on {pay_by}.")


class InvalidChannel(InvalidInput):
    message = "A reminder is sent by e-mail or by post, not by {channel}."


@lru_cache(maxsize=32)
def _belgian_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("BE", years=year)


def is_public_holiday(day: date) -> bool:
    return day in _belgian_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Saturday except Belgian public holidays, as "jour ouvrable" reads in Belgian law."""
    return day.weekday() != 6 and not is_public_holiday(day)


def payment_period(sent_on: date, channel: str) -> tuple[date, date]:
    """Return the first and last day of the 14 days a consumer gets after the first reminder."""
    if channel == "email":
        first = sent_on + timedelta(days=1)
    elif channel == "post":
        first = sent_on
        working_days = 0
        while working_days < 3:
            first += timedelta(days=1)
            if is_working_day(first):
                working_days += 1
    else:
        raise InvalidChannel(channel=channel)
    return first, first + timedelta(days=PAYMENT_PERIOD_DAYS - 1)


def damages_cap(balance: Decimal) -> Decimal:
    """Return the most damages that may be charged on a consumer's unpaid balance."""
    for bracket in DAMAGES_BRACKETS:
        if bracket.up_to is None or balance <= bracket.up_to:
            extra = max(balance - bracket.above, Decimal(0)) * bracket.percent / 100
            cap = (bracket.fixed + extra).quantize(Decimal("0.01"), ROUND_HALF_UP)
            return min(cap, DAMAGES_CAP_TOTAL)
    raise AssertionError("the last bracket has no upper bound")


def check_damages(balance: Decimal, requested: Decimal, today: date, pay_by: date | None) -> Decimal:
    """Return ``requested`` if the law allows charging it today, or raise the reason it does not."""
    if pay_by is None or today <= pay_by:
        raise DamagesTooEarly(pay_by=pay_by.isoformat() if pay_by else "-")
    cap = damages_cap(balance)
    if requested > cap:
        raise DamagesAboveCap(requested=requested, cap=cap, balance=balance)
    return requested

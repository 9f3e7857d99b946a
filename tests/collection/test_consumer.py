"""Consumer debtors under Book XIX: a free first reminder, 14 days to pay, capped damages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.collection import consumer, daily_run
from backend.collection.consumer import DamagesAboveCap, DamagesTooEarly
from backend.collection.figures import reminder_figures
from backend.collection.ladder import StepSetting, save_ladder
from backend.collection.models import ReminderLetter, StepClaim
from backend.core.db import session_scope
from tests.collection.factories import make_invoice


def test_period_after_email_starts_next_day():
    assert consumer.payment_period(date(2027, 5, 14), "email") == (date(2027, 5, 15), date(2027, 5, 28))


def test_period_after_letter_friday_before_holiday():
    # Friday 14 May 2027; Sunday 16 is no working day and Monday 17 is Whit Monday. Working days
    # after posting: Saturday 15, Tuesday 18, Wednesday 19, so the 14 days run from 19 May to 1 June.
    assert consumer.payment_period(date(2027, 5, 14), "post") == (date(2027, 5, 19), date(2027, 6, 1))


def test_period_after_letter_friday_before_11_november():
    # Friday 10 November 2028; Saturday 11 November is a public holiday, Sunday 12 no working day.
    assert consumer.payment_period(date(2028, 11, 10), "post") == (date(2028, 11, 15), date(2028, 11, 28))


@pytest.mark.parametrize(("balance", "cap"), [
    ("100.00", "20.00"), ("150.00", "20.00"), ("150.01", "30.00"), ("400.00", "55.00"),
    ("500.00", "65.00"), ("1000.00", "90.00"), ("50000.00", "2000.00"),
])
def test_damages_cap_by_bracket(balance, cap):
    assert consumer.damages_cap(Decimal(balance)) == Decimal(cap)


def test_damages_above_cap_rejected():
    with pytest.raises(DamagesAboveCap) as raised:
        consumer.check_damages(Decimal("400.00"), Decimal("60.00"), date(2027, 6, 2), date(2027, 6, 1))
    assert "55.00" in str(raised.value)
    assert consumer.check_damages(Decimal("400.00"), Decimal("55.00"), date(2027, 6, 2), date(2027, 6, 1)) == Decimal("55.00")


def test_damages_before_period_end_rejected():
    with pytest.raises(DamagesTooEarly, match="2027-06-01"):
        consumer.check_damages(Decimal("400.00"), Decimal("20.00"), date(2027, 6, 1), date(2027, 6, 1))


def test_first_email_reminder_free_with_period(db_engine, owner_id):
    due = date(2027, 5, 11)
    invoice_id = make_invoice(db_engine, owner_id, due=due, amount="400.00", consumer=True)
    sent = datetime(2027, 5, 14, 8, tzinfo=UTC)
    daily_run.run_day(db_engine, date(2027, 5, 14), now=sent)

    with session_scope(db_engine, write_lock=False) as session:
        claim = session.exec(select(StepClaim).where(StepClaim.invoice_id == invoice_id)).one()
        figures = reminder_figures(session, invoice_id, date(2027, 5, 14), pay_by=claim.pay_by)
    assert claim.pay_by == date(2027, 5, 28)
    assert figures.is_consumer
    assert figures.total == Decimal("400.00")
    assert figures.damages_cap == Decimal("55.00")


def test_consumer_letter_has_no_sticker_and_waits_period(db_engine, owner_id):
    due = date(2027, 5, 1)
    invoice_id = make_invoice(db_engine, owner_id, due=due, amount="400.00", consumer=True)
    with session_scope(db_engine) as session:
        save_ladder(session, owner_id, [StepSetting("letter", 13), StepSetting("formal_notice", 14)])
    for offset in range(13, 33):
        day = due + timedelta(days=offset)
        daily_run.run_day(db_engine, day, now=datetime(day.year, day.month, day.day, 8, tzinfo=UTC))

    with session_scope(db_engine, write_lock=False) as session:
        claims = session.exec(select(StepClaim).where(StepClaim.invoice_id == invoice_id).order_by(StepClaim.id)).all()
        letters = session.exec(select(ReminderLetter).where(ReminderLetter.invoice_id == invoice_id)).all()
    # Letter posted Friday 14 May 2027: the period ends 1 June, so the formal notice waits until 2 June.
    assert [(claim.step, claim.run_date) for claim in claims] == [
        ("letter", date(2027, 5, 14)), ("formal_notice", date(2027, 6, 2)),
    ]
    assert claims[0].pay_by == date(2027, 6, 1)
    assert all(not letter.with_sticker for letter in letters)

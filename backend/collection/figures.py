"""Money figures of a reminder: the balance, with the interest and the flat compensation for a
business debtor, or the payment period and the most damages that may follow for a consumer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import structlog
from sqlmodel import Session

from backend.collection import consumer, interest
from backend.collection.interest import InterestCalculation, MissingLatePaymentRate
from backend.invoicing import collection_queries
from backend.invoicing import service as invoicing

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReminderFigures:
    balance: Decimal
    debtor_kind: str
    # Business debtors: interest to ``as_of`` (None when a half-year's rate is missing) and 40 €.
    interest: InterestCalculation | None
    compensation: Decimal
    # Consumers: the last day to pay after the free first reminder, and the most damages after it.
    pay_by: date | None
    damages_cap: Decimal | None

    @property
    def is_consumer(self) -> bool:
        return self.debtor_kind == "consumer"

    @property
    def total(self) -> Decimal:
        extra = (self.interest.interest if self.interest else Decimal(0)) + self.compensation
        return self.balance + extra


def reminder_figures(session: Session, invoice_id: int, as_of: date, pay_by: date | None = None) -> ReminderFigures:
    debtor = collection_queries.debtor_of(session, invoice_id)
    invoice = invoicing.get_invoice(session, invoice_id)
    balance = invoice.amount_due
    if debtor.debtor_kind == "consumer":
        return ReminderFigures(balance, "consumer", None, Decimal("0.00"), pay_by, consumer.damages_cap(balance))

    # NOTE: interest runs on today's balance over the whole period; a part payment made during
    # the period is not yet dated, so interest on a partly paid invoice is understated.
    rates = interest.load_rates(session)
    calculation = None
    try:
        calculation = interest.compute_interest(balance, invoice.due_date, as_of, rates)
    except MissingLatePaymentRate as missing:
        # The half-year's rate is not published yet: claim the interest up to the day before it,
        # which the shown periods make visible.
        log.warning("interest.rate_missing", invoice_id=invoice_id, error=str(missing))
        known_until = date.fromisoformat(missing.params["starts_on"]) - timedelta(days=1)
        if known_until > invoice.due_date:
            try:
                calculation = interest.compute_interest(balance, invoice.due_date, known_until, rates)
            except MissingLatePaymentRate:
                calculation = None
    return ReminderFigures(balance, "company", calculation, interest.FLAT_COMPENSATION, None, None)

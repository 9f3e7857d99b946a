"""The freelancer's collection dashboard: overdue amounts by age, invoices by ladder step, the
next actions planned, and one invoice's whole story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from backend.collection import daily_run, disputes
from backend.collection.ladder import ladder_for, upcoming_step
from backend.collection.models import STEP_KINDS, InvoiceHold, StepClaim
from backend.collection.service import letters_for_invoice
from backend.invoicing import collection_queries
from backend.invoicing import service as invoicing
from backend.notifications.call_models import CallAttempt
from backend.notifications.service import messages_for_invoice

# Days overdue: (label key, first day, last day or None).
AGE_BUCKETS = (("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


@dataclass
class Bucket:
    key: str
    amount: Decimal = Decimal("0.00")
    count: int = 0


@dataclass(frozen=True)
class PlannedAction:
    invoice_id: int
    number: str
    debtor_name: str
    amount_due: Decimal
    step: str | None
    on: date | None
    # "dispute" or "pause" when a hold stops the ladder.
    held: str | None
    held_until: date | None


@dataclass
class Dashboard:
    buckets: list[Bucket]
    by_step: dict[str, int]
    actions: list[PlannedAction] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((bucket.amount for bucket in self.buckets), Decimal("0.00"))

    @property
    def largest(self) -> Decimal:
        return max((bucket.amount for bucket in self.buckets), default=Decimal(0)) or Decimal(1)


def build_dashboard(session: Session, owner_id: int, today: date) -> Dashboard:
    overdue = collection_queries.overdue_invoices(session, today, managed_only=False, owner_id=owner_id, limit=100_000)
    ids = [item.invoice_id for item in overdue]
    buckets = [Bucket(key) for key, _, _ in AGE_BUCKETS]
    by_step = {"none": 0, **{kind: 0 for kind in STEP_KINDS}}
    claims: dict[int, list[StepClaim]] = {}
    holds: dict[int, InvoiceHold] = {}
    if ids:
        for claim in session.exec(select(StepClaim).where(StepClaim.invoice_id.in_(ids))):
            claims.setdefault(claim.invoice_id, []).append(claim)
        for hold in session.exec(select(InvoiceHold).where(InvoiceHold.invoice_id.in_(ids))):
            if disputes.is_active(hold, today):
                holds.setdefault(hold.invoice_id, hold)

    actions = []
    for item in overdue:
        age = (today - item.due_date).days
        for bucket, (_, first, last) in zip(buckets, AGE_BUCKETS, strict=True):
            if age >= first and (last is None or age <= last):
                bucket.amount += item.amount_due
                bucket.count += 1
        sent = [claim for claim in claims.get(item.invoice_id, []) if claim.status == "sent"]
        latest = max(sent, key=lambda claim: STEP_KINDS.index(claim.step), default=None)
        by_step[latest.step if latest else "none"] += 1
        hold = holds.get(item.invoice_id)
        step = upcoming_step(ladder_for(session, owner_id, item.debtor_key), item.due_date, {c.step for c in sent})
        on = max(step.due_on(item.due_date), today) if step else None
        actions.append(PlannedAction(item.invoice_id, item.number, item.debtor_name, item.amount_due,
                                     step.step if step else None, on, hold.kind if hold else None,
                                     hold.until if hold else None))
    actions.sort(key=lambda action: (action.held is not None, action.on or date.max, action.invoice_id))
    return Dashboard(buckets=buckets, by_step=by_step, actions=actions)


@dataclass(frozen=True)
class InvoiceStory:
    detail: invoicing.InvoiceDetail
    claims: list[StepClaim]
    holds: list[InvoiceHold]
    active_hold: InvoiceHold | None
    letters: list
    messages: list
    calls: list[CallAttempt]
    debtor_kind: str
    debtor_key: str


def invoice_story(session: Session, owner_id: int, invoice_id: int, today: date) -> InvoiceStory:
    detail = invoicing.get_invoice_detail(session, owner_id, invoice_id)
    debtor = collection_queries.debtor_of(session, invoice_id)
    calls = list(session.exec(select(CallAttempt).where(CallAttempt.invoice_id == invoice_id).order_by(CallAttempt.id)))
    return InvoiceStory(
        detail=detail, claims=daily_run.claims_for_invoice(session, invoice_id),
        holds=disputes.holds_for_invoice(session, invoice_id),
        active_hold=disputes.active_hold(session, invoice_id, today),
        letters=letters_for_invoice(session, invoice_id), messages=messages_for_invoice(session, invoice_id),
        calls=calls, debtor_kind=debtor.debtor_kind if debtor else "company", debtor_key=debtor.debtor_key if debtor else "",
    )

"""The collection ladder: which step comes when after an invoice's due date.

A freelancer may switch steps off or move them; a debtor may have its own ladder, which then
replaces the freelancer's for that debtor's invoices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import structlog
from sqlmodel import Session, delete, select

from backend.collection.models import STEP_KINDS, LadderStep
from backend.core.errors import InvalidInput

log = structlog.get_logger(__name__)

MAX_DELAY_DAYS = 365


@dataclass(frozen=True)
class StepSetting:
    step: str
    # Calendar days after the due date.
    delay_days: int
    enabled: bool = True

    def due_on(self, due_date: date) -> date:
        return due_date + timedelta(days=self.delay_days)


# A friendly e-mail a few days after the due date, then the letter with its crying sticker
# (whose opening starts a call and an e-mail), a formal notice, and the hand-off to a
# collection partner.
DEFAULT_LADDER = (
    StepSetting("friendly_email", 3),
    StepSetting("letter", 14),
    StepSetting("formal_notice", 30),
    StepSetting("handoff", 60),
)


class UnknownLadderStep(InvalidInput):
    message = "Unknown ladder step: {step}."


class DuplicateLadderStep(InvalidInput):
    message = "Each step may appear only once in a ladder."


class InvalidStepDelay(InvalidInput):
    message = "The delay of a step must be a whole number of days between 0 and {maximum}."


class DebtorRequired(InvalidInput):
    message = "Choose the debtor whose own ladder should be removed."


def _ordered(steps: Iterable[StepSetting]) -> tuple[StepSetting, ...]:
    order = {kind: position for position, kind in enumerate(STEP_KINDS)}
    return tuple(sorted(steps, key=lambda step: (step.delay_days, order[step.step])))


def _from_rows(rows: Iterable[LadderStep]) -> tuple[StepSetting, ...]:
    return _ordered(StepSetting(row.step, row.delay_days, row.enabled) for row in rows)


def ladder_for(session: Session, owner_id: int, debtor_key: str = "") -> tuple[StepSetting, ...]:
    """Return the debtor's own ladder, else the freelancer's, else the default, earliest step first."""
    rows = session.exec(select(LadderStep).where(LadderStep.owner_id == owner_id)).all()
    return resolve_ladder(rows, owner_id, debtor_key)


def resolve_ladder(rows: Iterable[LadderStep], owner_id: int, debtor_key: str) -> tuple[StepSetting, ...]:
    """Pick from preloaded rows as ``ladder_for`` does."""
    return LadderIndex(rows).ladder(owner_id, debtor_key)


class LadderIndex:
    """The ladders of several owners, loaded once, so that a run resolves each invoice's ladder by lookup."""

    def __init__(self, rows: Iterable[LadderStep]) -> None:
        grouped: dict[tuple[int, str], list[LadderStep]] = {}
        for row in rows:
            grouped.setdefault((row.owner_id, row.debtor_key), []).append(row)
        self._ladders = {key: _from_rows(group) for key, group in grouped.items()}

    def ladder(self, owner_id: int, debtor_key: str) -> tuple[StepSetting, ...]:
        """Return the debtor's own ladder, else the freelancer's, else the default."""
        return (self._ladders.get((owner_id, debtor_key)) or self._ladders.get((owner_id, ""))
                or DEFAULT_LADDER)


def has_own_ladder(session: Session, owner_id: int, debtor_key: str) -> bool:
    query = select(LadderStep.id).where(LadderStep.owner_id == owner_id, LadderStep.debtor_key == debtor_key)
    return session.exec(query).first() is not None


def save_ladder(session: Session, owner_id: int, steps: list[StepSetting], debtor_key: str = "") -> tuple[StepSetting, ...]:
    """Replace the freelancer's ladder, or the debtor's when ``debtor_key`` is given."""
    kinds = [step.step for step in steps]
    unknown = sorted(set(kinds) - set(STEP_KINDS))
    if unknown:
        raise UnknownLadderStep(step=", ".join(unknown))
    if len(set(kinds)) != len(kinds):
        raise DuplicateLadderStep()
    for step in steps:
        if not 0 <= step.delay_days <= MAX_DELAY_DAYS:
            raise InvalidStepDelay(maximum=MAX_DELAY_DAYS)

    session.exec(delete(LadderStep).where(LadderStep.owner_id == owner_id, LadderStep.debtor_key == debtor_key))
    session.add_all(LadderStep(owner_id=owner_id, debtor_key=debtor_key, step=step.step,
                               delay_days=step.delay_days, enabled=step.enabled) for step in steps)
    session.flush()
    log.info("ladder.saved", owner_id=owner_id, debtor_key=debtor_key or None, steps=len(steps))
    return _ordered(steps)


def reset_debtor_ladder(session: Session, owner_id: int, debtor_key: str) -> None:
    """Remove a debtor's own ladder, so that the freelancer's applies again."""
    if not debtor_key:
        raise DebtorRequired()
    session.exec(delete(LadderStep).where(LadderStep.owner_id == owner_id, LadderStep.debtor_key == debtor_key))
    session.flush()


def next_step(ladder: Iterable[StepSetting], due_date: date, as_of: date, done: set[str]) -> StepSetting | None:
    """Return the earliest enabled step not done yet if its day has come, else None.

    Steps happen in order: a later step never overtakes an earlier one that is still waiting.
    """
    for step in ladder:
        if not step.enabled or step.step in done:
            continue
        return step if step.due_on(due_date) <= as_of else None
    return None


def upcoming_step(ladder: Iterable[StepSetting], due_date: date, done: set[str]) -> StepSetting | None:
    """Return the next enabled step not done yet, whatever its day."""
    for step in ladder:
        if step.enabled and step.step not in done:
            return step
    return None

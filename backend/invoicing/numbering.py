"""Invoice numbers: one unbroken yearly series per issuer, shared by invoices and credit notes.

Belgian law (Royal Decree no. 1 on VAT, art. 5) requires numbers that follow one another
in one or more continuous series. Invoices and credit notes share one series here, so
that a number names exactly one document of the issuer and the accountant checks a
single sequence: ``2026-0001``, ``2026-0002`` (a credit note), ``2026-0003``. A new series
starts each calendar year, and the issuer may put a prefix before the year.

Drafts have no number. Issuing takes the next number in the same transaction that turns
the draft into an invoice, while the series row is locked: ``SELECT ... FOR UPDATE`` on
PostgreSQL, and the database write lock of ``BEGIN IMMEDIATE`` on SQLite. A rolled-back
issue gives its number back, so numbers are never skipped nor given twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from backend.invoicing.models import NumberSequence

SERIES = "sales"
MIN_DIGITS = 4


class WriteLockRequired(RuntimeError):
    """Raised when a number is taken on SQLite outside a ``BEGIN IMMEDIATE`` transaction.

    A deferred transaction that read the series before another one committed cannot take
    the write lock afterwards, so the issue would fail under load instead of waiting.
    """


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}{year}-{value:0{MIN_DIGITS}d}"


def next_number(session: Session, owner_id: int, year: int, prefix: str = "") -> str:
    """Take the next number of the owner's series for ``year``, locked until commit."""
    bind = session.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite" and bind.get_execution_options().get("sqlite_begin") != "IMMEDIATE":
        raise WriteLockRequired("open the session with session_scope(engine, write_lock=True) to issue")

    values = {"owner_id": owner_id, "year": year, "series": SERIES, "last_value": 0}
    if dialect == "postgresql":
        insert = postgresql.insert(NumberSequence).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        insert = sqlite.insert(NumberSequence).values(**values).on_conflict_do_nothing()
    else:
        raise RuntimeError(f"numbering supports SQLite and PostgreSQL, not {dialect}")
    session.exec(insert)

    query = (
        select(NumberSequence)
        .where(NumberSequence.owner_id == owner_id, NumberSequence.year == year, NumberSequence.series == SERIES)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    sequence = session.exec(query).one()
    sequence.last_value += 1
    session.add(sequence)
    session.flush()
    return format_number(prefix, year, sequence.last_value)


def last_number(session: Session, owner_id: int, year: int) -> int:
    """Return the last value taken in the owner's series for ``year``, 0 when none was."""
    value = session.exec(
        sa.select(NumberSequence.last_value).where(
            NumberSequence.owner_id == owner_id, NumberSequence.year == year, NumberSequence.series == SERIES
        )
    ).first()
    return value[0] if value else 0

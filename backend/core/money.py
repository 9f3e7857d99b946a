"""Money: ``Decimal`` everywhere, stored exactly on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")


def round_cents(amount: Decimal) -> Decimal:
    """Round to cents, half away from zero (ROUND_HALF_UP acts on the magnitude)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class DecimalAmount(TypeDecorator):
    """A decimal with a fixed scale: NUMERIC on PostgreSQL, a scaled BIGINT on SQLite.

    SQLite has no exact decimal type, so amounts are kept there as integers of
    10^-scale units; sums and comparisons in SQL stay exact on both databases.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, scale: int = 2, precision: int = 18) -> None:
        super().__init__()
        self.scale = scale
        self.precision = precision

    def __repr__(self) -> str:
        # Alembic writes this into migrations, so the scale must survive the round trip.
        return f"DecimalAmount(scale={self.scale}, precision={self.precision})"

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            scaled = value.scaleb(self.scale)
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{value} has more than {self.scale} decimal places")
            return int(scaled)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))

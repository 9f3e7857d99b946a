from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.core import db as core_db
from backend.core.money import DecimalAmount, round_cents


@pytest.mark.parametrize(("value", "expected"), [
    ("2.345", "2.35"), ("-2.345", "-2.35"), ("2.344", "2.34"), ("-12.5", "-12.50"), ("0.005", "0.01"),
])
def test_round_cents_half_away_from_zero(value: str, expected: str):
    assert round_cents(Decimal(value)) == Decimal(expected)


def test_decimal_amount_is_exact_in_both_databases(database_url):
    engine = core_db.get_engine(database_url)
    metadata = sa.MetaData()
    table = sa.Table("money_probe", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("price", DecimalAmount(scale=4)), sa.Column("total", DecimalAmount()))
    metadata.create_all(engine)
    try:
        with engine.begin() as connection:
            connection.execute(table.insert(), [
                {"price": Decimal("7.2025"), "total": Decimal("0.10")},
                {"price": Decimal("0.0001"), "total": Decimal("0.20")},
            ])
        with engine.connect() as connection:
            prices = connection.execute(sa.select(table.c.price).order_by(table.c.id)).scalars().all()
            total = connection.execute(sa.select(sa.func.sum(table.c.total))).scalar_one()
    finally:
        metadata.drop_all(engine)

    assert prices == [Decimal("7.2025"), Decimal("0.0001")]
    assert total == Decimal("0.30")


def test_decimal_amount_rejects_extra_places_on_sqlite(sqlite_url):
    engine = core_db.get_engine(sqlite_url)
    metadata = sa.MetaData()
    table = sa.Table("money_probe", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("total", DecimalAmount()))
    metadata.create_all(engine)

    with pytest.raises(sa.exc.StatementError, match="more than 2 decimal places"):
        with engine.begin() as connection:
            connection.execute(table.insert(), [{"total": Decimal("0.005")}])

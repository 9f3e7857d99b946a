"""The migrations create exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import backend.models  # noqa: F401
from backend.core import db as core_db


def test_migrations_match_models(database_url):
    engine = core_db.get_engine(database_url)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []


def test_migrations_are_applied_up_to_head(database_url):
    engine = core_db.get_engine(database_url)

    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()

    assert revision is not None

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from backend.accounts.service import sign_up
from backend.core import db as core_db
from backend.core.db import session_scope


@pytest.fixture
def db_engine(database_url: str) -> Engine:
    """An engine on a fresh database, SQLite then PostgreSQL."""
    return core_db.get_engine(database_url)


@pytest.fixture
def owner_id(db_engine: Engine) -> int:
    with session_scope(db_engine) as session:
        return sign_up(session, email="lien@example.be", name="Lien Verbeke", password="x" * 12).id


@pytest.fixture
def other_owner_id(db_engine: Engine) -> int:
    with session_scope(db_engine) as session:
        return sign_up(session, email="other@example.be", name="Other Freelancer", password="y" * 12).id


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from tests.marketplace.factories import cheap_password_hashing

    cheap_password_hashing(monkeypatch)

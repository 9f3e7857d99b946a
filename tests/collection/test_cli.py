"""``ikki collection run``: the daily run from the command line."""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner
from sqlmodel import select

from backend.accounts.service import sign_up
from backend.cli import main
from backend.collection.models import DailyRun, LatePaymentRate, StepClaim
from backend.core import db as core_db
from backend.core.db import session_scope
from tests.collection.factories import make_invoice


def test_collection_run_with_date(settings):
    engine = core_db.get_engine(settings.database_url)
    with session_scope(engine) as session:
        owner_id = sign_up(session, email="lien@example.be", name="Lien Verbeke", password="x" * 12).id
    make_invoice(engine, owner_id, due=date(2026, 6, 1))

    result = CliRunner().invoke(main, ["collection", "run", "--date", "2026-06-04"])

    assert result.exit_code == 0, result.output
    assert "2026-06-04: 1 evaluated, 1 sent (friendly_email 1), 0 skipped, 0 postponed" in result.output
    with session_scope(engine, write_lock=False) as session:
        assert session.exec(select(StepClaim.step)).all() == ["friendly_email"]
        assert session.exec(select(DailyRun.run_date)).all() == [date(2026, 6, 4)]
        assert len(session.exec(select(LatePaymentRate)).all()) >= 5


def test_collection_run_rejects_bad_date(settings):
    result = CliRunner().invoke(main, ["collection", "run", "--date", "4 June"])
    assert result.exit_code == 2
    assert "--date" in result.output

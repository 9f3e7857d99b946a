"""Shared fixtures: an empty database per test (a SQLite file or the emptied PostgreSQL database),
settings pointing at a temporary data folder, and a web client."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.core import db as core_db
from backend.core.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# The Peppol sample invoice of the project, overdue since 4 November 2026.
SAMPLES_DIR = REPO_ROOT / "tests" / "samples"
SAMPLE_INVOICE = SAMPLES_DIR / "invoice-b2b-overdue.xml"

POSTGRES_ADMIN_URL = os.environ.get("IKKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _admin_engine():
    return sa.create_engine(
        POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )


def create_postgres_database(template: str | None = None) -> str:
    """Create an empty database, or a copy of ``template``, and return its URL."""
    name = f"ikki_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as connection:
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{suffix}')
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def require_postgres() -> None:
    if not postgres_available():
        pytest.skip(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: start it (apt-get install postgresql) "
            "or point IKKI_TEST_POSTGRES_URL at a server with trust authentication"
        )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "var"
    directory.mkdir()
    return directory


def make_settings(data_dir: Path, database_url: str | None = None, **overrides) -> Settings:
    values = {
        "environment": "test",
        "data_dir": data_dir,
        "database_url": database_url or f"sqlite:///{data_dir / 'ikki.db'}",
        "worker_in_process": False,
        "virtual_sticker": False,
        "espeak_command": "espeak-ng",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test: migrating once keeps tests fast."""
    path = tmp_path_factory.mktemp("template") / "ikki.db"
    url = f"sqlite:///{path}"
    core_db.migrate(url)
    core_db.get_engine(url).dispose()
    core_db._engines.pop(url, None)
    return path


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the test session, emptied before each test."""
    require_postgres()
    url = create_postgres_database()
    try:
        core_db.migrate(url)
        yield url
    finally:
        core_db.dispose_engines()
        drop_postgres_database(url)


def empty_postgres_database(url: str) -> None:
    """Truncate every table but Alembic's, and restart the id sequences."""
    engine = core_db.get_engine(url)
    with engine.begin() as connection:
        tables = connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).scalars().all()
        if tables:
            names = ", ".join(f'"{name}"' for name in tables)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def fresh_sqlite_url(template: Path, data_dir: Path) -> str:
    path = data_dir / "ikki.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, data_dir: Path, sqlite_template: Path) -> Iterator[str]:
    """A fresh, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield fresh_sqlite_url(sqlite_template, data_dir)
        core_db.dispose_engines()
        return
    url = request.getfixturevalue("postgres_session_url")
    empty_postgres_database(url)
    yield url


@pytest.fixture
def sqlite_url(data_dir: Path, sqlite_template: Path) -> Iterator[str]:
    yield fresh_sqlite_url(sqlite_template, data_dir)
    core_db.dispose_engines()


@pytest.fixture
def settings(data_dir: Path, sqlite_url: str, monkeypatch) -> Iterator[Settings]:
    """Settings on a fresh SQLite database, installed as the process-wide settings."""
    configured = make_settings(data_dir, sqlite_url)
    for name, value in configured.model_dump().items():
        if value is not None and not isinstance(value, (dict, list)):
            monkeypatch.setenv(f"IKKI_{name.upper()}", str(value))
    get_settings.cache_clear()
    yield configured
    get_settings.cache_clear()


@pytest.fixture
def engine(settings: Settings):
    return core_db.get_engine(settings.database_url)


def which_or_skip(command: str, how: str) -> str:
    path = shutil.which(command)
    if path is None:
        pytest.skip(f"{command} is not installed: {how}")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (IKKI_TEST_NO_SKIP=1) a skipped test fails: every part must be installed there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("IKKI_TEST_NO_SKIP") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped in CI, where nothing may be skipped: {reason}"

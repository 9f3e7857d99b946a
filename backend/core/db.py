"""Database engine, sessions and migrations. One commit per request, MQTT message or job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

_engines: dict[str, Engine] = {}


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            # pysqlite's own transaction handling would defer BEGIN; take control of it so
            # that BEGIN IMMEDIATE can be issued where a write lock is needed up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:
            mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None) -> Engine:
    if url is None:
        from backend.core.settings import get_settings

        url = get_settings().database_url
    if url not in _engines:
        _engines[url] = create_db_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None, *, write_lock: bool = True) -> Iterator[Session]:
    """Open a session that commits on success and rolls back on error.

    ``write_lock`` takes the database write lock at the first statement on SQLite
    (``BEGIN IMMEDIATE``). A deferred SQLite transaction that reads and then writes fails
    with "database is locked", without waiting, when another connection wrote in between;
    so every transaction that may write takes the lock up front. Pass ``write_lock=False``
    for read-only work. PostgreSQL ignores the flag.
    """
    engine = engine or get_engine()
    if write_lock and is_sqlite(engine):
        bind = engine.execution_options(sqlite_begin="IMMEDIATE")
    else:
        bind = engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str | None = None) -> None:
    """Apply every Alembic migration up to head."""
    from alembic import command

    from backend.core.settings import get_settings

    url = url or get_settings().database_url
    engine = get_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database.migrated", url=engine.url.render_as_string(hide_password=True))

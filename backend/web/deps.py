"""FastAPI dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.db import get_engine, is_sqlite
from backend.core.errors import NotAuthenticated


def db_session(request: Request) -> Iterator[Session]:
    """One session and one commit per request; requests that may write lock SQLite up front."""
    engine = get_engine()
    if request.method not in ("GET", "HEAD", "OPTIONS") and is_sqlite(engine):
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def page_language(request: Request) -> str:
    return request.state.language


def current_user(request: Request) -> User:
    user = getattr(request.state, "user", None)
    if user is None:
        raise NotAuthenticated()
    return user

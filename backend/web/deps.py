"""FastAPI dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.db import get_engine, is_sqlite
from backend.core.errors import NotAuthenticated


def db_session(request: Request) -> Iterator[Session]:
    """One session and one commit per request; requests that may write lock SQLite up front.

    Use it as ``Depends(db_session, scope="function")``: with the default request scope,
    FastAPI commits after the response is sent, so a browser following a redirect could
    read the database before the commit, and a failed commit would follow a success page.
    """
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

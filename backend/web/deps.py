"""FastAPI dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.db import get_engine
from backend.core.errors import NotAuthenticated


def db_session() -> Iterator[Session]:
    """One session and one commit per request."""
    with Session(get_engine(), expire_on_commit=False) as session:
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

"""Session, CSRF tokens and flash messages on top of Starlette's signed session cookie."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from backend.core.errors import InvalidCsrfToken

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Reject a state-changing request whose CSRF token does not match the session's."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise InvalidCsrfToken()


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Queue a message, already translated, for the next page the user sees."""
    request.session["flashes"] = [*request.session.get("flashes", []), {"message": message, "kind": kind}]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    return request.session.pop("flashes", [])

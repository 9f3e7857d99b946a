"""Errors named for the situation. Each carries its HTTP status and an English message
template that the web layer translates; one handler renders them all."""

from __future__ import annotations

from typing import Any


class IkkiError(Exception):
    """Base of every expected failure. ``message`` is an English msgid with ``{name}`` fields."""

    status_code = 400
    message = "The request failed."

    def __init__(self, message: str | None = None, **params: Any) -> None:
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return self.render(lambda text: text)

    def render(self, gettext) -> str:
        return gettext(self.message).format(**self.params)


class NotFound(IkkiError):
    status_code = 404
    message = "Not found."


class Forbidden(IkkiError):
    status_code = 403
    message = "You may not do that."


class NotAuthenticated(IkkiError):
    status_code = 401
    message = "Please log in."


class InvalidCsrfToken(IkkiError):
    status_code = 403
    message = "The form expired or was sent from another site. Reload the page and try again."


class InvalidInput(IkkiError):
    status_code = 422
    message = "Invalid value."


class Conflict(IkkiError):
    status_code = 409
    message = "This already exists."

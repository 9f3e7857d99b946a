"""The station's one error type, printed by the `ikki` command as `ikki: message` with exit status 1."""

from __future__ import annotations

from typing import Any

from backend.core.errors import IkkiError
from provisioning import messages


class StationError(IkkiError):
    """An expected failure at the station; `code` names it in provisioning.messages."""

    def __init__(self, code: str, **fields: Any) -> None:
        self.code = code
        self.lang: str | None = None
        super().__init__(messages.MESSAGES[code][0], **fields)

    def render(self, gettext) -> str:
        return messages.text(self.code, self.lang, **self.params)

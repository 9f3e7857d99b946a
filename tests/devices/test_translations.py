"""Every text of the devices domain that a user sees has a French and a Dutch translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from backend.core.errors import IkkiError
from backend.devices import routes, service
from backend.web.i18n import get_translations

PACKAGE = Path(service.__file__).parent
TEMPLATE_TEXT = re.compile(r'_\("((?:[^"\\]|\\.)+)"\)')


def error_messages() -> set[str]:
    messages = set()
    for module in (service, routes):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, IkkiError) and value.__module__ == module.__name__:
                messages.add(value.message)
    return messages


def inline_messages() -> set[str]:
    """Message templates passed to InvalidInput(...) and gettext(...) in the package's source."""
    messages = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0]
            if name in ("InvalidInput", "gettext") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                messages.add(first.value)
    return messages


def template_messages() -> set[str]:
    messages = set()
    for path in (PACKAGE / "templates").glob("*.html"):
        messages |= set(TEMPLATE_TEXT.findall(path.read_text()))
    return messages


# Words that Dutch borrows from English unchanged.
SAME_IN = {"fr": set(), "nl": {"Sticker", "Stickers", "Firmware", "open"}}
ALL_MESSAGES = sorted(error_messages() | inline_messages() | template_messages()
                      | {label for label in routes.STATE_LABELS.values()})


def test_messages_are_found():
    assert "Sticker {device_id} not found among your stickers." in ALL_MESSAGES
    assert "Invalid device key: it must be {size} bytes long." in ALL_MESSAGES
    assert "Claim the sticker" in ALL_MESSAGES
    assert "Armed" in ALL_MESSAGES
    assert "No sticker linked." in ALL_MESSAGES
    assert len(ALL_MESSAGES) >= 45


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_message_is_translated(language):
    gettext = get_translations(language).gettext

    missing = [message for message in ALL_MESSAGES
               if gettext(message) == message and message not in SAME_IN[language]]

    assert missing == []


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_translations_keep_placeholders(language):
    gettext = get_translations(language).gettext

    for message in ALL_MESSAGES:
        assert sorted(re.findall(r"\{\w+\}", gettext(message))) == sorted(re.findall(r"\{\w+\}", message)), message

"""Every text a user can see, in every package, is translated into French and Dutch."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from backend.core.errors import IkkiError
from backend.web import i18n

PACKAGES = sorted(
    path.parent.name for path in i18n.BACKEND_DIR.glob("*/__init__.py")
    if (path.parent / "templates").is_dir() or (path.parent / "locales").is_dir() or path.parent.name == "core"
)
_FIELD = re.compile(r"\{[a-z_]*\}|%\([a-z_]+\)s")


def _error_classes() -> list[type[IkkiError]]:
    for path in i18n.BACKEND_DIR.glob("*/*.py"):
        if path.parent.name != "migrations":
            importlib.import_module(f"backend.{path.parent.name}.{path.stem}")
    found, pending = [], [IkkiError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


ERROR_CLASSES = _error_classes()


def package_msgids(package: str) -> set[str]:
    """Return the msgids of a package: gettext calls, messages raised inline, error classes."""
    root = i18n.BACKEND_DIR / package
    # A message passed to an error's constructor is translated when the error is shown.
    keywords = {"_": None, "gettext": None}
    keywords.update({cls.__name__: (1,) for cls in ERROR_CLASSES})
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options_map = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        root, method_map, options_map=options_map, keywords=keywords
    ):
        text = message[0] if isinstance(message, tuple) else message
        # Error constructors also take values that are not messages: an element path, a "?".
        if text and re.search(r"[A-Za-z]", text) and not text.startswith("/"):
            found.add(text)
    for cls in ERROR_CLASSES:
        if cls.__module__.startswith(f"backend.{package}.") and "message" in vars(cls):
            found.add(cls.message)
    return found


def translated_msgids(language: str) -> set[str]:
    found = set()
    for path in i18n.BACKEND_DIR.glob(f"*/locales/{language}.po"):
        with path.open("rb") as handle:
            found.update(message.id for message in read_po(handle) if message.id and message.string)
    return found


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_msgid_translated(package: str, language: str):
    missing = sorted(package_msgids(package) - translated_msgids(language))

    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("language", ["fr", "nl"])
def test_translations_keep_fields(package: str, language: str):
    translate = i18n.gettext_for(language)

    changed = {msgid: translate(msgid) for msgid in package_msgids(package)
               if sorted(_FIELD.findall(msgid)) != sorted(_FIELD.findall(translate(msgid)))}

    assert changed == {}

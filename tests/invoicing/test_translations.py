"""Every text of the invoicing and collection packages is translated into French and Dutch."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from backend.core.errors import IkkiError
from backend.web import i18n

PACKAGES = ("invoicing", "collection")
_FIELD = re.compile(r"\{[a-z_]*\}")


def package_msgids(package: str) -> set[str]:
    """Return the msgids in a package's templates and Python code, error messages included."""
    root = i18n.BACKEND_DIR / package
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options_map = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        root, method_map, options_map=options_map, keywords={"_": None, "gettext": None}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    for path in Path(root).glob("*.py"):
        module = importlib.import_module(f"backend.{package}.{path.stem}")
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, IkkiError) and value.__module__ == module.__name__:
                found.add(value.message)
    return found


def translated_msgids(language: str) -> set[str]:
    """Return the msgids with a translation in any package's catalog, as the loader merges them."""
    found = set()
    for path in i18n.BACKEND_DIR.glob(f"*/locales/{language}.po"):
        with path.open("rb") as handle:
            found.update(message.id for message in read_po(handle) if message.id and message.string)
    return found


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_msgid_translated(package, language):
    msgids = package_msgids(package)

    missing = sorted(msgids - translated_msgids(language))

    assert len(msgids) > 20
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("language", ["fr", "nl"])
def test_translations_keep_fields(package, language):
    translate = i18n.gettext_for(language)

    changed = {msgid: translate(msgid) for msgid in package_msgids(package)
               if sorted(_FIELD.findall(msgid)) != sorted(_FIELD.findall(translate(msgid)))}

    assert changed == {}

"""Every text of the marketplace, contracts and timesheets has a French and a Dutch translation
with the same placeholders."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from backend.web import i18n

BACKEND = Path(__file__).resolve().parents[2] / "backend"
PACKAGES = ("marketplace", "contracts", "timesheets")
# Texts this work added to templates of other packages: the navigation and the sign-up form.
SHARED_TEMPLATE_MSGIDS = [
    "Missions", "Network", "Contracts", "Timesheets", "Notifications", "I am",
    "a freelancer looking for missions", "a company hiring freelancers", "Your company",
    "For companies only: your company's details, as registered in the Crossroads Bank for Enterprises.",
    "Company name", "Enterprise number", "Street and number", "Postal code", "City",
    ("%(count)s unread", "%(count)s unread"),
    "Unknown account type {role}: choose freelancer or client.",
]
# Error classes whose first argument or ``message`` attribute is a msgid.
ERROR_CALLS = {"InvalidInput", "Conflict", "Forbidden", "NotFound", "IkkiError"}
PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)[sd]")


def _template_msgids(path: Path) -> list[str | tuple[str, str]]:
    options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
    with path.open("rb") as handle:
        found = extract(babel_extract, handle, keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
                        options=options)
        return [message for _, message, _, _ in found]


def _python_msgids(path: Path) -> list[str]:
    """Collect msgids from gettext calls, error messages and the flash messages of ``done``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    msgids = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                        and getattr(statement.targets[0], "id", None) == "message"
                        and isinstance(statement.value, ast.Constant)):
                    msgids.append(statement.value.value)
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        position = {"gettext_noop": 0, "gettext": 0, "_": 0, "done": 1}.get(name)
        if name in ERROR_CALLS or name.endswith(("NotFound", "Locked")):
            position = 0
        if position is not None and len(node.args) > position:
            argument = node.args[position]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                msgids.append(argument.value)
    return msgids


def collect_msgids() -> set[str | tuple[str, str]]:
    msgids: set[str | tuple[str, str]] = set()
    for package in PACKAGES:
        for path in (BACKEND / package).rglob("*"):
            if path.suffix == ".py":
                msgids.update(_python_msgids(path))
            elif path.suffix in (".html", ".txt"):
                msgids.update(_template_msgids(path))
    msgids.update(SHARED_TEMPLATE_MSGIDS)
    return msgids


def load_catalog(language: str) -> dict:
    merged = {}
    for path in sorted(BACKEND.glob(f"*/locales/{language}.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy:
                    merged[message.id] = message.string
    return merged


def placeholders(text: str) -> set[str]:
    return {first or second for first, second in PLACEHOLDER.findall(text)}


def test_collector_finds_known_texts():
    msgids = collect_msgids()
    assert "Matching freelancers" in msgids
    assert "Mission {mission_id} not found." in msgids
    assert "Ranked by a score out of 100 from skills and levels, rate, availability, hours, location and " \
           "languages. Each line shows what counted." in msgids
    assert "{skill}: level {level}, at least {minimum} asked" in msgids


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_text_is_translated(language):
    catalog = load_catalog(language)
    missing = sorted(str(msgid) for msgid in collect_msgids() if msgid not in catalog)
    assert missing == [], f"{len(missing)} texts have no {language} translation"


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_translations_keep_placeholders(language):
    catalog = load_catalog(language)
    for msgid in collect_msgids():
        translation = catalog.get(msgid)
        if translation is None:
            continue
        pairs = zip(msgid, translation) if isinstance(msgid, tuple) else [(msgid, translation)]
        for source, target in pairs:
            assert placeholders(target) == placeholders(source), (msgid, target)


def test_catalog_loader_serves_marketplace_texts():
    i18n.get_translations.cache_clear()
    assert i18n.gettext_for("fr")("Matching freelancers") != "Matching freelancers"
    assert i18n.gettext_for("nl")("Matching freelancers") != "Matching freelancers"

"""Languages, translation catalogs and locale-aware formatting.

Each domain package keeps its own catalogs in ``<package>/locales/<lang>.po`` with the
English text as msgid; they are merged per language at first use. English needs no
catalog: a missing translation falls back to the msgid.
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from backend.core.time import BRUSSELS

LANGUAGES = ("fr", "nl", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_NAMES = {"fr": "Français", "nl": "Nederlands", "en": "English"}
# Belgian locales, so that numbers, dates and currency read as a Belgian reader writes them.
LOCALES = {"fr": "fr_BE", "nl": "nl_BE", "en": "en_BE"}

BACKEND_DIR = Path(__file__).resolve().parent.parent


def normalize_language(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def negotiate_language(accept_language: str | None) -> str:
    """Pick the best supported language from an Accept-Language header."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        fields = part.strip().split(";")
        code = normalize_language(fields[0])
        if code is None:
            continue
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, code))
    if not ranked:
        return DEFAULT_LANGUAGE
    return sorted(ranked)[0][2]


@lru_cache
def get_translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    merged = Catalog(locale=language)
    for po_path in sorted(BACKEND_DIR.glob(f"*/locales/{language}.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:
            if message.id and message.string:
                merged.add(message.id, message.string, context=message.context)
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(language: str):
    return get_translations(language).gettext


def ngettext_for(language: str):
    return get_translations(language).ngettext


def format_money(amount: Decimal, language: str, currency: str = "EUR") -> str:
    return format_currency(amount, currency, locale=LOCALES[language])


def format_number(value: Decimal | int | float, language: str) -> str:
    return format_decimal(value, locale=LOCALES[language])


def format_day(value: date, language: str, form: str = "long") -> str:
    return babel_format_date(value, format=form, locale=LOCALES[language])


def format_moment(value: datetime, language: str, form: str = "medium") -> str:
    return babel_format_datetime(value, format=form, tzinfo=BRUSSELS, locale=LOCALES[language])


def language_display_name(code: str, in_language: str) -> str:
    return Locale.parse(code).get_display_name(LOCALES[in_language]).capitalize()

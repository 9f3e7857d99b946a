"""The language a debtor is written to and called in, guessed from the customer's address.

Belgian postal codes follow the provinces, so the first guess is the language of the
region the customer's postal code belongs to:

- 1000-1299, the Brussels-Capital Region: French, because it is bilingual and most of
  its businesses deal in French. The freelancer switches to Dutch where needed.
- 1300-1499 (Walloon Brabant), 4000-7999 (Liège, Namur, Hainaut, Luxembourg): French.
- 4700-4799, the German-speaking municipalities (Eupen, Kelmis, Sankt Vith, ...):
  French, because German is not offered and French is the region's other official
  language.
- 1500-3999 (Flemish Brabant, Antwerp, Limburg) and 8000-9999 (West and East Flanders):
  Dutch. The language-facility municipalities around Brussels and Voeren stay Dutch,
  their official language.
- Any other country, or a postal code that is not four digits: English.
"""

from __future__ import annotations

from typing import NamedTuple

from backend.web.i18n import LANGUAGES

DEFAULT_LANGUAGE = "en"

# (first, last, language), inclusive ranges of Belgian postal codes.
BELGIAN_POSTAL_RANGES = (
    (1000, 1299, "fr"),
    (1300, 1499, "fr"),
    (1500, 3999, "nl"),
    (4000, 7999, "fr"),
    (8000, 9999, "nl"),
)


class LanguageGuess(NamedTuple):
    language: str
    source: str  # "postal_code" or "default"


def guess_debtor_language(country: str | None, postal_code: str | None) -> LanguageGuess:
    """Guess the debtor's language from the country code and postal code of its address."""
    code = (postal_code or "").strip().upper().removeprefix("B-").removeprefix("BE-")
    if (country or "").strip().upper() != "BE" or len(code) != 4 or not code.isdigit():
        return LanguageGuess(DEFAULT_LANGUAGE, "default")

    number = int(code)
    for first, last, language in BELGIAN_POSTAL_RANGES:
        if first <= number <= last:
            return LanguageGuess(language, "postal_code")
    # Codes below 1000 do not exist in Belgium.
    return LanguageGuess(DEFAULT_LANGUAGE, "default")


def is_supported(language: str) -> bool:
    return language in LANGUAGES

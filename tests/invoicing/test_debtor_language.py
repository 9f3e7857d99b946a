from __future__ import annotations

import pytest

from backend.invoicing.debtor_language import guess_debtor_language


@pytest.mark.parametrize(("country", "postal_code", "language", "source"), [
    ("BE", "1000", "fr", "postal_code"),    # Brussels
    ("BE", "1299", "fr", "postal_code"),    # Brussels-Capital, last code
    ("BE", "1300", "fr", "postal_code"),    # Wavre, Walloon Brabant
    ("BE", "1499", "fr", "postal_code"),
    ("BE", "1500", "nl", "postal_code"),    # Halle, Flemish Brabant
    ("BE", "1640", "nl", "postal_code"),    # Sint-Genesius-Rode, facility municipality
    ("BE", "2000", "nl", "postal_code"),    # Antwerp
    ("BE", "3000", "nl", "postal_code"),    # Leuven
    ("BE", "3790", "nl", "postal_code"),    # Voeren
    ("BE", "3999", "nl", "postal_code"),
    ("BE", "4000", "fr", "postal_code"),    # Liège
    ("BE", "4700", "fr", "postal_code"),    # Eupen, German-speaking: French, German is not offered
    ("BE", "4780", "fr", "postal_code"),    # Sankt Vith
    ("BE", "5000", "fr", "postal_code"),    # Namur
    ("BE", "6000", "fr", "postal_code"),    # Charleroi
    ("BE", "7999", "fr", "postal_code"),
    ("BE", "8000", "nl", "postal_code"),    # Bruges
    ("BE", "9000", "nl", "postal_code"),    # Ghent
    ("BE", "9999", "nl", "postal_code"),
    ("be", " 9000 ", "nl", "postal_code"),
    ("BE", "B-9000", "nl", "postal_code"),
    ("BE", "0999", "en", "default"),
    ("BE", "900", "en", "default"),
    ("BE", "90000", "en", "default"),
    ("BE", None, "en", "default"),
    ("NL", "1012", "en", "default"),        # Amsterdam: a Dutch-looking code abroad
    ("FR", "75001", "en", "default"),
    (None, "9000", "en", "default"),
])
def test_guess_from_postal_code(country, postal_code, language, source):
    guess = guess_debtor_language(country, postal_code)

    assert guess.language == language
    assert guess.source == source

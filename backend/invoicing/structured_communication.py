"""Belgian structured communication (OGM/VCS): ``+++ddd/dddd/ddddd+++``.

Twelve digits: a base of ten digits followed by two check digits, which are the base
modulo 97, where a remainder of 0 gives 97.
"""

from __future__ import annotations

import re

from stdnum.be import ogm_vcs
from stdnum.exceptions import ValidationError

BASE_LENGTH = 10
# Written forms accepted on input: +++ddd/dddd/ddddd+++, ***ddd/dddd/ddddd***,
# ddd/dddd/ddddd and 12 bare digits. Spaces around the separators are tolerated.
_DECORATED = re.compile(r"^(\+{3}|\*{3})?\s*(\d{3})\s*/\s*(\d{4})\s*/\s*(\d{5})\s*(\+{3}|\*{3})?$")
_BARE = re.compile(r"^\d{12}$")


class InvalidStructuredCommunication(ValueError):
    """A value that is not a structured communication, or whose check digits are wrong."""

    def __init__(self, value: str, reason: str, expected_check_digits: str | None = None) -> None:
        super().__init__(f"invalid structured communication {value!r}: {reason}")
        self.value = value
        self.reason = reason
        self.expected_check_digits = expected_check_digits


def check_digits(base: str) -> str:
    """Return the two check digits of a ten-digit base."""
    if len(base) != BASE_LENGTH or not base.isdigit():
        raise ValueError(f"a structured communication base has 10 digits, not {base!r}")
    return ogm_vcs.calc_check_digits(base)


def build(base: str | int) -> str:
    """Return the 12 digits for a base of at most ten digits, left-padded with zeros."""
    text = str(base)
    if not text.isdigit() or len(text) > BASE_LENGTH:
        raise ValueError(f"a structured communication base is at most 10 digits, not {base!r}")
    padded = text.rjust(BASE_LENGTH, "0")
    return padded + check_digits(padded)


def parse(value: str) -> str:
    """Return the 12 digits of a written structured communication, after checking them.

    Raises InvalidStructuredCommunication for another format or wrong check digits.
    """
    text = value.strip()
    decorated = _DECORATED.match(text)
    if decorated is not None:
        opening, first, second, third, closing = decorated.groups()
        if opening != closing:
            raise InvalidStructuredCommunication(value, "the opening and closing signs differ")
        digits = first + second + third
    elif _BARE.match(text):
        digits = text
    else:
        raise InvalidStructuredCommunication(
            value, "write it as +++ddd/dddd/ddddd+++, ***ddd/dddd/ddddd***, ddd/dddd/ddddd or 12 digits"
        )

    expected = check_digits(digits[:BASE_LENGTH])
    if digits[BASE_LENGTH:] != expected:
        raise InvalidStructuredCommunication(value, "wrong check digits", expected_check_digits=expected)
    return digits


def is_valid(value: str) -> bool:
    try:
        parse(value)
    except InvalidStructuredCommunication:
        return False
    return True


def format_digits(digits: str) -> str:
    """Write 12 valid digits as ``+++ddd/dddd/ddddd+++``."""
    try:
        ogm_vcs.validate(digits)
    except ValidationError as error:
        raise InvalidStructuredCommunication(digits, "not 12 digits with valid check digits") from error
    return f"+++{ogm_vcs.format(digits)}+++"

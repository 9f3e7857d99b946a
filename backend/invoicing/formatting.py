"""Display forms of IBANs, Belgian enterprise numbers and unit codes."""

from __future__ import annotations


def format_iban(iban: str) -> str:
    """Write an IBAN in groups of four characters, as banks print it."""
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[start:start + 4] for start in range(0, len(compact), 4))


def format_enterprise_number(number: str) -> str:
    """Write a ten-digit enterprise number as 0478.123.490."""
    if len(number) != 10 or not number.isdigit():
        return number
    return f"{number[:4]}.{number[4:7]}.{number[7:]}"


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


# UN/ECE recommendation 20 unit codes that freelancers' invoices use most.
UNIT_LABELS = {
    "HUR": _("h"),
    "DAY": _("days"),
    "MON": _("months"),
    "C62": _("pcs"),
    "H87": _("pcs"),
    "EA": _("pcs"),
    "KMT": _("km"),
    "LS": _("lump sum"),
}


def unit_label(code: str | None, gettext) -> str:
    if not code:
        return ""
    return gettext(UNIT_LABELS[code]) if code in UNIT_LABELS else code

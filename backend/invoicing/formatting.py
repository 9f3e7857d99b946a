"""Display forms of IBANs, Belgian enterprise numbers and unit codes."""

from __future__ import annotations

from decimal import Decimal


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


# Units whose name agrees with the quantity, as (singular, plural) msgids for ngettext.
UNIT_FORMS = {
    "DAY": ("day", "days"),
    "MON": ("month", "months"),
    "C62": ("piece", "pieces"),
    "H87": ("piece", "pieces"),
    "EA": ("piece", "pieces"),
}


def unit_label(code: str | None, gettext, quantity: Decimal | None = None, ngettext=None) -> str:
    """Return the unit's name; with ``quantity`` and ``ngettext``, in the form that agrees with it.

    A fraction takes the form of its whole part, as French and Dutch do (1,5 jour, 1,5 dag).
    """
    if not code:
        return ""
    if quantity is not None and ngettext is not None and code in UNIT_FORMS:
        singular, plural = UNIT_FORMS[code]
        return ngettext(singular, plural, int(abs(quantity)))
    return gettext(UNIT_LABELS[code]) if code in UNIT_LABELS else code


# Names of the VAT categories that charge no VAT (UNCL5305 codes), as a VAT breakdown shows them.
CATEGORY_LABELS = {
    "Z": _("zero rate"),
    "E": _("exempt"),
    "AE": _("reverse charge"),
    "K": _("exempt intra-Community supply"),
    "G": _("exempt export"),
    "O": _("outside the scope of VAT"),
}


def category_label(category: str, gettext) -> str:
    return gettext(CATEGORY_LABELS[category]) if category in CATEGORY_LABELS else category

"""Reading UBL 2.1 elements by path, with errors that name the element and its value."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from backend.invoicing import errors

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

AMOUNT_PLACES = 2
# Amounts are stored as NUMERIC(18, 2) and quantities as NUMERIC(18, 4), so larger numbers
# could not stay exact.
MAX_MAGNITUDE = Decimal("1e12")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class UblReader:
    """Reads the text of elements under a base element and names them by their full path."""

    def __init__(self, node: etree._Element, prefix: str = "") -> None:
        self.node = node
        self.prefix = prefix

    def name(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def child(self, path: str) -> UblReader | None:
        found = self.node.find(path, NS)
        return None if found is None else UblReader(found, self.name(path))

    def children(self, path: str) -> list[UblReader]:
        """Return readers for every element at ``path``, named with an index when there are several."""
        found = self.node.findall(path, NS)
        if len(found) == 1:
            return [UblReader(found[0], self.name(path))]
        return [UblReader(element, f"{self.name(path)}[{index}]") for index, element in enumerate(found, start=1)]

    def element(self, path: str) -> etree._Element | None:
        return self.node.find(path, NS)

    def text(self, path: str) -> str | None:
        found = self.node.find(path, NS)
        if found is None or found.text is None:
            return None
        value = " ".join(found.text.split())
        return value or None

    def required(self, path: str) -> str:
        value = self.text(path)
        if value is None:
            raise errors.MissingElement(element=self.name(path))
        return value

    def joined(self, path: str) -> str | None:
        texts = [found.text.strip() for found in self.node.findall(path, NS) if found.text and found.text.strip()]
        return "\n".join(texts) or None

    def date(self, path: str, *, required: bool = False) -> date | None:
        value = self.required(path) if required else self.text(path)
        if value is None:
            return None
        try:
            if not _ISO_DATE.match(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise errors.InvalidDate(element=self.name(path), value=value) from None

    def decimal(self, path: str, places: int, *, required: bool = False) -> Decimal | None:
        value = self.required(path) if required else self.text(path)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise errors.InvalidNumber(element=self.name(path), value=value) from None
        if not number.is_finite() or "e" in value.lower():
            raise errors.InvalidNumber(element=self.name(path), value=value)
        if abs(number) >= MAX_MAGNITUDE:
            raise errors.AmountOutOfRange(element=self.name(path), value=value)
        rounded = number.quantize(Decimal(1).scaleb(-places))
        if rounded != number:
            raise errors.TooManyDecimals(element=self.name(path), value=value, places=places)
        return rounded

    def currency(self) -> str:
        value = self.required("cbc:DocumentCurrencyCode")
        if not _CURRENCY.match(value):
            raise errors.InvalidCurrency(element=self.name("cbc:DocumentCurrencyCode"), value=value)
        return value


class AmountReader:
    """Reads monetary amounts: two decimals and the invoice's currency in ``currencyID``."""

    def __init__(self, reader: UblReader, currency: str) -> None:
        self.root = reader
        self.currency = currency

    def read(self, reader: UblReader, path: str, *, required: bool = True) -> Decimal | None:
        amount = reader.decimal(path, AMOUNT_PLACES, required=required)
        if amount is None:
            return None
        currency = reader.element(path).get("currencyID")
        if currency is None:
            raise errors.MissingElement(element=reader.name(path) + "/@currencyID")
        if currency != self.currency:
            raise errors.CurrencyMismatch(element=reader.name(path), value=currency, currency=self.currency)
        return amount

    def total(self, path: str, *, required: bool = True) -> Decimal | None:
        return self.read(self.root, "cac:LegalMonetaryTotal/" + path, required=required)

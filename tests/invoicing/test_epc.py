from __future__ import annotations

from decimal import Decimal

import pytest

from backend.invoicing.epc import epc_payload


def test_payload_with_structured_reference_exact_text():
    payload = epc_payload(name="Lien Verbeke", iban="BE56 3631 2345 6788", bic="BBRUBEBB",
                          amount=Decimal("1234.5"), structured_reference="010000260466")

    assert payload == "BCD\n002\n1\nSCT\nBBRUBEBB\nLien Verbeke\nBE56363123456788\nEUR1234.50\n\n010000260466"


def test_payload_fields_by_position():
    fields = epc_payload(name="Lien Verbeke", iban="BE56363123456788", bic="BBRUBEBB",
                         amount=Decimal("1234.5"), structured_reference="010000260466").split("\n")

    assert fields[7] == "EUR1234.50"
    assert fields[8] == ""
    assert fields[9] == "010000260466"
    # Nothing follows the reference: the free-text element stays empty.
    assert len(fields) == 10


def test_payload_with_text_leaves_reference_empty():
    payload = epc_payload(name="Lien Verbeke", iban="BE56363123456788", bic=None,
                          amount=Decimal(91), text="Invoice 2026-0117")

    assert payload == "BCD\n002\n1\nSCT\n\nLien Verbeke\nBE56363123456788\nEUR91.00\n\n\nInvoice 2026-0117"


def test_payload_rejects_reference_and_text():
    with pytest.raises(ValueError, match="never both"):
        epc_payload(name="A", iban="BE56363123456788", amount=Decimal(1),
                    structured_reference="010000260466", text="Invoice 1")


@pytest.mark.parametrize("amount", [Decimal(0), Decimal(-5), Decimal("1000000000.00"), Decimal("1.001")])
def test_payload_rejects_amount(amount):
    with pytest.raises(ValueError):
        epc_payload(name="A", iban="BE56363123456788", amount=amount)


def test_payload_cuts_name_at_70_characters():
    name = "Verbeke " * 12

    fields = epc_payload(name=name, iban="BE56363123456788", amount=Decimal(1)).split("\n")

    assert len(fields[5]) == 70
    assert fields[5] == " ".join(name.split())[:70]


def test_payload_keeps_utf8_names():
    fields = epc_payload(name="Société Générale d'Études", iban="BE56363123456788",
                         amount=Decimal("12.30")).split("\n")

    assert fields[2] == "1"
    assert fields[5] == "Société Générale d'Études"
    assert fields[7] == "EUR12.30"

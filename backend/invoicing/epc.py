"""EPC payment QR payload (European Payments Council guideline EPC069-12, version 002).

Elements are separated by a line feed. In order, they are the service tag ``BCD``, the
version ``002``, the character set ``1`` (UTF-8), the identification ``SCT``, the BIC, the
beneficiary name (at most 70 characters), the IBAN and the amount (``EUR`` and the amount
with a dot). The purpose, structured reference, free remittance text and
beneficiary-to-originator information follow. A payload carries either a structured
reference or free text, never both, and nothing follows its last non-empty element.
"""

from __future__ import annotations

from decimal import Decimal

from backend.core.money import CENT

MAX_NAME_LENGTH = 70
MAX_REFERENCE_LENGTH = 35
MAX_TEXT_LENGTH = 140
MAX_PAYLOAD_BYTES = 331
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")


def epc_payload(*, name: str, iban: str, amount: Decimal, bic: str | None = None,
                structured_reference: str | None = None, text: str | None = None,
                purpose: str | None = None) -> str:
    """Build the text of an EPC QR code for a SEPA credit transfer in euro.

    ``structured_reference`` is put in the structured-reference element as given: Belgian
    banks read the 12 digits of a structured communication there. A name longer than
    70 characters is cut, because the name only helps the payer recognise the payee.
    Raises ValueError for an amount outside 0.01 to 999,999,999.99 euro, for both a
    reference and a text, or for a payload over 331 bytes.
    """
    if structured_reference and text:
        raise ValueError("an EPC payload carries a structured reference or a text, never both")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise ValueError(f"an EPC amount lies between 0.01 and 999999999.99 euro, not {amount}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"an EPC amount has at most two decimals, not {amount}")
    if structured_reference and len(structured_reference) > MAX_REFERENCE_LENGTH:
        raise ValueError(f"the structured reference {structured_reference!r} exceeds 35 characters")
    if text and len(text) > MAX_TEXT_LENGTH:
        raise ValueError("the remittance text exceeds 140 characters")

    elements = [
        "BCD",
        "002",
        "1",
        "SCT",
        (bic or "").replace(" ", "").upper(),
        " ".join(name.split())[:MAX_NAME_LENGTH],
        iban.replace(" ", "").upper(),
        # A fixed-point format, so that no locale or exponent can change the dot.
        f"EUR{amount:.2f}",
        purpose or "",
        structured_reference or "",
        text or "",
    ]
    while elements[-1] == "":
        elements.pop()
    payload = "\n".join(elements)

    if len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"the EPC payload is {len(payload.encode('utf-8'))} bytes, over 331")
    return payload

"""The firmware's canonical JSON and signed payloads, cross-checked with CPython's json."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import string


def canonical(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def _cases() -> list[dict]:
    rng = random.Random(4231)
    awkward = [
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\b",
        "\f",
        "\x00",
        "\x01",
        "\x1f",
        "\x7f",
        "/",
        " ",
        "'",
        "}",
        ":",
    ]
    alphabet = string.ascii_letters + string.digits + "".join(awkward)
    cases = [
        {},
        {"v": 1},
        {"b": 2, "a": 1, "B": 3, "_": 4, "A1": 5, "a0": 6},
        {"s": ""},
        {"neg": -17, "zero": 0, "big": 2**40, "bigger": -(2**70)},
        {"quote": 'say "hi"', "slash": "a\\b", "ctrl": "\x00\x01\x1f\x7f", "ws": "\t\n\r\b\f"},
        {
            "dev": "stk-0001",
            "seq": 42,
            "type": "opened",
            "up": 1234,
            "age": 0,
            "v": 1,
            "fw": "0.1.0",
        },
        {"\x01key": 1, '"': 2, "\\": 3},
    ]
    for _ in range(60):
        fields = {}
        for _ in range(rng.randint(1, 12)):
            key = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
            if rng.random() < 0.5:
                fields[key] = rng.randint(-(2**33), 2**33)
            else:
                fields[key] = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        cases.append(fields)
    return cases


def test_canonical_json_matches_cpython(run_firmware_script):
    cases = _cases()
    # ascii() writes the dicts as Python literals with \x escapes, which
    # MicroPython parses the same way, so no JSON parser is involved.
    result = run_firmware_script(
        f"""
        from signing import canonical_json
        for fields in {cases!a}:
            print(canonical_json(fields))
        """
    )

    lines = result.stdout.split("\n")[: len(cases)]
    assert lines == [canonical(fields) for fields in cases]


def test_canonical_json_rejects_other_types(run_firmware_script):
    result = run_firmware_script(
        """
        from signing import canonical_json
        for fields in ({"a": True}, {"a": 1.5}, {"a": None}, {"a": [1]}, {"a": {"b": 1}}, {"a": "\\u00e9"}, {1: 2}):
            try:
                canonical_json(fields)
                print("accepted")
            except (TypeError, ValueError):
                print("rejected")
        """
    )

    assert result.stdout.split() == ["rejected"] * 7


def test_signed_payload_verifies_in_cpython(run_firmware_script):
    key = bytes(range(100, 132))
    fields = {
        "v": 1,
        "dev": "stk-0001",
        "seq": 7,
        "type": "opened",
        "up": 5120,
        "age": 35,
        "fw": "0.1.0",
        "batt_mv": 3871,
    }
    result = run_firmware_script(
        f"""
        from signing import Signer
        fields = {fields!r}
        payload = Signer({key!r}).payload(fields)
        print(payload.decode())
        print("sig" in fields)
        """
    )
    payload_text, sig_left_in_fields = result.stdout.split("\n")[:2]

    payload = json.loads(payload_text)
    signature = payload.pop("sig")
    assert payload == fields
    assert signature == hmac.new(key, canonical(payload).encode(), hashlib.sha256).hexdigest()
    assert payload_text == canonical({**fields, "sig": signature})
    assert sig_left_in_fields == "False"

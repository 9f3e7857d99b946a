"""HMAC-SHA256 of the firmware (signing.py) under MicroPython."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

# RFC 4231, section 4: (test case, key, data, HMAC-SHA-256). Test case 5
# checks only the first 128 bits (truncated output).
RFC4231_CASES = [
    (
        1,
        "0b" * 20,
        b"Hi There".hex(),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        2,
        b"Jefe".hex(),
        b"what do ya want for nothing?".hex(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (3, "aa" * 20, "dd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (
        4,
        bytes(range(1, 26)).hex(),
        "cd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (5, "0c" * 20, b"Test With Truncation".hex(), "a3b6167473100ee06e0c796c2955552b"),
    (
        6,
        "aa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First".hex(),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        7,
        "aa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. "
        b"The key needs to be hashed before being used by the HMAC algorithm.".hex(),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def _micropython_hmacs(run_firmware_script, pairs: list[tuple[str, str]]) -> list[str]:
    result = run_firmware_script(
        f"""
        import binascii
        from signing import hmac_sha256
        for key_hex, data_hex in {pairs!r}:
            digest = hmac_sha256(binascii.unhexlify(key_hex), binascii.unhexlify(data_hex))
            print(binascii.hexlify(digest).decode())
        """
    )
    return result.stdout.split()


def test_rfc4231_vectors_under_micropython(run_firmware_script):
    digests = _micropython_hmacs(
        run_firmware_script, [(key, data) for _, key, data, _ in RFC4231_CASES]
    )

    assert len(digests) == len(RFC4231_CASES)
    for (case, _, _, expected), digest in zip(RFC4231_CASES, digests, strict=True):
        assert digest.startswith(expected), f"RFC 4231 test case {case}"


@pytest.mark.parametrize("case", RFC4231_CASES, ids=[f"case{case[0]}" for case in RFC4231_CASES])
def test_rfc4231_table_matches_cpython(case):
    # Guards the table above against typing errors.
    _, key, data, expected = case
    assert (
        hmac.new(bytes.fromhex(key), bytes.fromhex(data), hashlib.sha256)
        .hexdigest()
        .startswith(expected)
    )


def test_key_lengths_around_block_size_match_cpython(run_firmware_script):
    keys = [
        bytes((i * 7 + length) % 256 for i in range(length))
        for length in (0, 1, 32, 63, 64, 65, 200)
    ]
    message = b"ikki" * 40
    pairs = [(key.hex(), message.hex()) for key in keys]

    digests = _micropython_hmacs(run_firmware_script, pairs)

    assert digests == [hmac.new(key, message, hashlib.sha256).hexdigest() for key in keys]


def test_mqtt_password_is_truncated_hmac(run_firmware_script):
    key = bytes(range(32))
    result = run_firmware_script(
        f"""
        import json
        from signing import mqtt_password
        print(json.dumps(mqtt_password({key!r})))
        """
    )

    password = json.loads(result.stdout)
    assert password == hmac.new(key, b"mqtt-password", hashlib.sha256).hexdigest()[:32]
    assert len(password) == 32

"""The worked example of docs/protocol.md is right, and the firmware produces it."""

from __future__ import annotations

import json
import re

from simulator.events import mqtt_password, verify
from simulator.vboard import REPO_ROOT

PROTOCOL = REPO_ROOT / "docs" / "protocol.md"


def _example() -> tuple[bytes, bytes, str]:
    text = PROTOCOL.read_text()
    key = bytes.fromhex(re.search(r"\(`([0-9a-f]{64})`\)", text).group(1))
    payload = re.search(r"```json\n(.*?)\n```", text, re.DOTALL).group(1).encode()
    password = re.search(r"the password is\s+`([0-9a-f]{32})`", text).group(1)
    return key, payload, password


def test_example_payload_verifies():
    key, payload, password = _example()

    fields = verify(payload, key)

    assert fields["type"] == "opened"
    assert password == mqtt_password(key)
    assert key == bytes(range(32))


def test_firmware_signs_the_example_identically(run_firmware_script):
    key, payload, _ = _example()
    fields = json.loads(payload)
    del fields["sig"]

    result = run_firmware_script(
        f"""
        from signing import Signer
        print(Signer({key!r}).payload({fields!r}).decode())
        """
    )

    assert result.stdout.strip().encode() == payload

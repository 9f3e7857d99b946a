"""Payloads signed by the firmware's own code, under MicroPython, pass ingestion."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backend.core.db import session_scope
from backend.devices import service
from backend.devices.ingestion import ingest_message
from backend.devices.protocol import events_topic, mqtt_password
from tests.devices.conftest import stored_events

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
DEVICE = "stk-firmware"
KEY = bytes(range(100, 132))

# Events as the firmware builds them: its record() extras plus the reporter's fields.
FIRMWARE_SCRIPT = """
import json
from signing import Signer, mqtt_password

signer = Signer(bytes.fromhex("{key_hex}"))
base = {{"v": 1, "dev": "{device}", "fw": "0.3.0"}}
events = [
    {{"seq": 1, "type": "boot", "up": 120, "age": 0, "reset": "power_on", "batt_mv": 3950}},
    {{"seq": 2, "type": "heartbeat", "up": 90000, "age": 0, "batt_mv": 3900, "state": ""}},
    {{"seq": 3, "type": "opened", "up": 7200, "age": 61000, "light": 812, "batt_mv": 3880, "dropped": 1}},
    {{"seq": 4, "type": "heartbeat", "up": 95000, "age": 5, "note": "tab\\there \\"quoted\\" \\\\ del\\x7f"}},
]
for extra in events:
    fields = dict(base)
    fields.update(extra)
    print(signer.payload(fields).decode())
print("password " + mqtt_password(bytes.fromhex("{key_hex}")))
"""


@pytest.fixture
def firmware_output(tmp_path: Path) -> list[str]:
    try:
        from simulator.upython import MicroPythonMissing, run_micropython
    except ImportError as error:
        pytest.skip(f"simulator.upython is not importable: {error}")
    script = tmp_path / "sign_events.py"
    script.write_text(textwrap.dedent(FIRMWARE_SCRIPT.format(key_hex=KEY.hex(), device=DEVICE)))
    try:
        result = run_micropython(script.name, cwd=tmp_path, path=[FIRMWARE_DIR], timeout=30)
    except MicroPythonMissing as error:
        pytest.skip(str(error))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_firmware_signed_events_are_stored(sqlite_settings, engine, firmware_output):
    *payloads, password_line = firmware_output
    with session_scope(engine) as session:
        service.register_device(session, device_id=DEVICE, key=KEY)

    outcomes = []
    for payload in payloads:
        with session_scope(engine) as session:
            outcomes.append(ingest_message(session, events_topic(DEVICE), payload.encode("ascii")).outcome)

    assert outcomes == ["stored"] * 4
    assert [event.event_type for event in stored_events(engine)] == ["boot", "heartbeat", "opened", "heartbeat"]
    assert stored_events(engine)[3].payload["note"] == json.loads(payloads[3])["note"]
    assert password_line == f"password {mqtt_password(KEY)}"

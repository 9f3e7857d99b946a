"""When an event happened: received_at, the device's age and the resend window."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.devices.events import occurrence_window
from backend.devices.ingestion import occurrence_of
from backend.devices.models import DeviceEvent
from backend.devices.protocol import MAX_RESEND_DELAY_MS

RECEIVED = datetime(2026, 3, 2, 9, 4, 0, tzinfo=UTC)
FIRMWARE_REPORTER = Path(__file__).resolve().parents[2] / "firmware" / "reporter.py"


def test_event_sent_at_once_is_within_resend_window():
    window = occurrence_window(RECEIVED, 0)

    assert window.latest == RECEIVED
    assert window.earliest == RECEIVED - timedelta(minutes=1)
    assert window.uncertainty == timedelta(seconds=30)


def test_queued_event_window_widens_with_rtc_drift():
    # Queued 20 minutes: 5 % drift is 60 s either way, plus the 60 s resend window.
    window = occurrence_window(RECEIVED, 20 * 60 * 1000)

    assert window.latest == RECEIVED - timedelta(minutes=19)
    assert window.earliest == RECEIVED - timedelta(minutes=22)
    assert window.middle == RECEIVED - timedelta(minutes=20, seconds=30)
    assert window.uncertainty == timedelta(minutes=1, seconds=30)


def test_negative_age_is_rejected():
    with pytest.raises(ValueError, match="queued_ms must not be negative"):
        occurrence_window(RECEIVED, -1)


def test_stored_event_window_is_derived_from_its_columns():
    event = DeviceEvent(device_id="stk-1", seq=3, event_type="opened", device_uptime_ms=10,
                        queued_ms=120_000, received_at=RECEIVED, payload={})

    window = occurrence_of(event)

    assert window.latest == RECEIVED - timedelta(milliseconds=114_000)
    assert window.earliest == RECEIVED - timedelta(milliseconds=186_000)


def test_firmware_resend_limit_matches_backend():
    tree = ast.parse(FIRMWARE_REPORTER.read_text())
    values = {
        node.targets[0].id: node.value.args[0].value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.args[0], ast.Constant)
    }

    assert values["MAX_RESEND_DELAY_MS"] == MAX_RESEND_DELAY_MS

"""The retained configuration reaches a virtual sticker through a real broker and is acknowledged."""

from __future__ import annotations

import json
import time
from pathlib import Path

from backend.devices.config_downlink import config_payload, publish_payload
from backend.devices.protocol import sign_event
from simulator.events import EVENTS_TOPIC, verify
from simulator.vboard import VirtualBoard, make_config
from tests.simulator.conftest import OBSERVER


def _events(observer, device) -> list[dict]:
    device_id, key = device
    return [verify(p, key) for p in observer.on_topic(EVENTS_TOPIC.format(device_id=device_id))]


def _wait_for_event(observer, device, event_type: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [event for event in _events(observer, device) if event["type"] == event_type]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            got = [event["type"] for event in _events(observer, device)]
            raise TimeoutError(f"no {event_type!r} event within {timeout} s; got {got}")
        time.sleep(0.02)


def _publish(broker, device_id: str, payload: bytes) -> None:
    publish_payload(device_id, payload, host="127.0.0.1", port=broker.port,
                    username=OBSERVER[0], password=OBSERVER[1])


def test_sticker_applies_config_and_rejects_invalid_one(tmp_path: Path, broker, observer, device):
    device_id, key = device
    config = make_config(device_id, key.hex(), mqtt_port=broker.port, arm_delay_s=0.3,
                         debounce_ms=50, cry_max_s=0.5, cry_stop_dark_s=0.1, heartbeat_s=0,
                         retry_min_s=0.2, retry_max_s=1)
    _publish(broker, device_id, config_payload(key, 7, {"cry_max_s": 2, "volume": 50}))
    board = VirtualBoard(tmp_path / "board", config)
    board.install()
    board.close_envelope()
    board.start()
    try:
        applied = _wait_for_event(observer, device, "config_applied")
        on_flash = json.loads((board.flash_dir / "config.json").read_text())

        # Version 8 asks for an uplink that the firmware does not have.
        invalid = sign_event(key, {"cfg_v": 8, "uplink": "5g"})
        _publish(broker, device_id, json.dumps(invalid, sort_keys=True, separators=(",", ":")).encode())
        board.wait_for_state("armed", 10)
        board.open_envelope()
        rejected = _wait_for_event(observer, device, "config_rejected")
        after_rejection = json.loads((board.flash_dir / "config.json").read_text())
    finally:
        board.stop()

    assert applied["cfg_v"] == 7
    assert (on_flash["cry_max_s"], on_flash["volume"], on_flash["cfg_v"]) == (2, 50, 7)
    assert rejected["cfg_v"] == 8
    assert rejected["reason"] == "uplink must be one of wifi, lte, got '5g'"
    assert after_rejection == on_flash

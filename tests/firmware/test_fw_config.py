"""Reading and checking config.json (config.py) under MicroPython."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ID_RULE = (
    "device_id must start with a letter or digit and contain only letters, digits, '_' and '-', "
)
VALID = {
    "device_id": "stk-0001",
    "key": "ab" * 32,
    "mqtt_host": "broker.example",
    "mqtt_port": 8883,
}

LOAD = """
import json
import config
try:
    loaded = config.load()
    if loaded is None:
        print(json.dumps({"result": "unprovisioned"}))
    else:
        print(json.dumps({"result": "ok", "device_id": loaded.device_id, "key": len(loaded.key),
                          "arm_delay_ms": loaded.arm_delay_ms, "cry_stop_dark_ms": loaded.cry_stop_dark_ms,
                          "debounce_ms": loaded.debounce_ms, "volume": loaded.volume, "port": loaded.mqtt_port,
                          "uplink_mode": loaded.uplink_mode}))
except config.ConfigError as error:
    print(json.dumps({"result": "invalid", "error": str(error)}))
"""


def _load(run_firmware_script, tmp_path: Path, text: str | None) -> dict:
    config_file = tmp_path / "flash" / "config.json"
    config_file.parent.mkdir(exist_ok=True)
    if text is not None:
        config_file.write_text(text)
    return json.loads(run_firmware_script(LOAD).stdout)


def test_missing_config_means_unprovisioned(run_firmware_script, tmp_path: Path):
    assert _load(run_firmware_script, tmp_path, None) == {"result": "unprovisioned"}


def test_valid_config_gets_defaults(run_firmware_script, tmp_path: Path):
    loaded = _load(run_firmware_script, tmp_path, json.dumps({**VALID, "cry_stop_dark_s": 0.5}))

    assert loaded == {
        "result": "ok",
        "device_id": "stk-0001",
        "key": 32,
        "arm_delay_ms": 30000,
        "cry_stop_dark_ms": 500,
        "debounce_ms": 200,
        "volume": 80,
        "port": 8883,
        "uplink_mode": "session",
    }


def test_one_shot_uplink_mode_is_accepted(run_firmware_script, tmp_path: Path):
    loaded = _load(run_firmware_script, tmp_path, json.dumps({**VALID, "uplink_mode": "one_shot"}))

    assert loaded["result"] == "ok"
    assert loaded["uplink_mode"] == "one_shot"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "ab" * 31}, "key must be 64 hexadecimal characters (32 bytes)"),
        ({"key": "zz" * 32}, "key must be 64 hexadecimal characters (32 bytes)"),
        ({"device_id": "stk/1"}, ID_RULE + "got 'stk/1'"),
        ({"device_id": "stk+"}, ID_RULE + "got 'stk+'"),
        ({"device_id": "-stk"}, ID_RULE + "got '-stk'"),
        ({"device_id": "stk.1"}, ID_RULE + "got 'stk.1'"),
        ({"device_id": "s1"}, "device_id must be a string of 3 to 64 characters"),
        ({"mqtt_port": 0}, "mqtt_port must be an integer from 1 to 65535, got 0"),
        ({"volume": 101}, "volume must be an integer from 0 to 100, got 101"),
        ({"debounce_ms": True}, "debounce_ms must be an integer from 0 to 10000, got True"),
        ({"cry_max_s": "30"}, "cry_max_s must be a number of seconds from 0.1 to 600, got '30'"),
        (
            {"light_hysteresis": 20000},
            "light_hysteresis must be an integer from 0 to 12000, got 20000",
        ),
        ({"retry_min_s": 10, "retry_max_s": 5}, "retry_max_s must not be smaller than retry_min_s"),
        (
            {"uplink_mode": "burst"},
            "uplink_mode must be one of session, one_shot, got 'burst'",
        ),
        ({"uplink_mode": "ONE_SHOT"}, "uplink_mode must be one of session, one_shot, got 'ONE_SHOT'"),
        ({"uplink_mode": 1}, "uplink_mode must be one of session, one_shot, got 1"),
    ],
)
def test_invalid_values_are_rejected(
    run_firmware_script, tmp_path: Path, change: dict, message: str
):
    loaded = _load(run_firmware_script, tmp_path, json.dumps({**VALID, **change}))

    assert loaded == {"result": "invalid", "error": message}


def test_missing_key_and_bad_json_are_rejected(run_firmware_script, tmp_path: Path):
    without_host = {name: value for name, value in VALID.items() if name != "mqtt_host"}

    assert _load(run_firmware_script, tmp_path, json.dumps(without_host)) == {
        "result": "invalid",
        "error": "missing key mqtt_host",
    }
    assert _load(run_firmware_script, tmp_path, "{not json") == {
        "result": "invalid",
        "error": "config.json is not valid JSON",
    }

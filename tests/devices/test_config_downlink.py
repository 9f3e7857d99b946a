"""The configuration downlink: the backend signs it, the firmware's downlink.py applies or rejects it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backend.devices.config_downlink import InvalidStickerConfig, config_payload
from backend.devices.protocol import sign_event, signature_is_valid

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
KEY = bytes(range(40, 72))
BASE_CONFIG = {"device_id": "stk-downlink", "key": KEY.hex(), "mqtt_host": "127.0.0.1", "arm_delay_s": 30}

APPLY = """
import json
import downlink
from signing import Signer

signer = Signer(bytes.fromhex("{key_hex}"))
results = []
for payload in {payloads!r}:
    outcome, version, reason = downlink.apply(payload, signer)
    results.append([outcome, version, reason, json.loads(open("config.json").read())])
print(json.dumps(results))
"""


def _apply_on_firmware(tmp_path: Path, payloads: list[bytes]) -> list[list]:
    try:
        from simulator.upython import MicroPythonMissing, run_micropython
    except ImportError as error:
        pytest.skip(f"simulator.upython is not importable: {error}")
    (tmp_path / "config.json").write_text(json.dumps(BASE_CONFIG))
    script = tmp_path / "apply.py"
    script.write_text(textwrap.dedent(APPLY.format(key_hex=KEY.hex(), payloads=payloads)))
    try:
        result = run_micropython(script.name, cwd=tmp_path, path=[FIRMWARE_DIR], timeout=30)
    except MicroPythonMissing as error:
        pytest.skip(str(error))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _crafted(key: bytes, fields: dict) -> bytes:
    # Signed like the backend, but past the backend's own checks.
    return json.dumps(sign_event(key, fields), sort_keys=True, separators=(",", ":")).encode()


def test_payload_is_signed_and_versioned():
    payload = config_payload(KEY, 3, {"arm_delay_s": 10, "volume": 60})
    fields = json.loads(payload)

    assert fields["cfg_v"] == 3
    assert (fields["arm_delay_s"], fields["volume"]) == (10, 60)
    assert signature_is_valid(KEY, fields)


@pytest.mark.parametrize(
    ("version", "values", "message"),
    [
        (1, {"volume": 101}, "volume must be an integer from 0 to 100"),
        (1, {"cry_max_s": 0.5}, "cry_max_s must be an integer from 1 to 600"),
        (1, {"uplink": "5g"}, "uplink must be one of wifi, lte"),
        (1, {"uplink_mode": "burst"}, "uplink_mode must be one of session, one_shot"),
        (1, {"mqtt_host": "evil.example"}, "unknown key 'mqtt_host'"),
        (1, {}, "at least one key"),
        (0, {"volume": 10}, "the version must be an integer from 1"),
    ],
)
def test_invalid_configuration_is_refused(version, values, message):
    with pytest.raises(InvalidStickerConfig, match=message):
        config_payload(KEY, version, values)


def test_firmware_applies_newer_and_rejects_invalid(tmp_path: Path):
    first = config_payload(KEY, 1, {"arm_delay_s": 5, "volume": 40, "after_cry": "finish",
                                    "uplink_mode": "one_shot"})
    wrong_key = config_payload(bytes(32), 2, {"volume": 90})
    invalid = _crafted(KEY, {"cfg_v": 3, "uplink": "5g"})
    unknown = _crafted(KEY, {"cfg_v": 4, "mqtt_host": "evil.example"})
    invalid_mode = _crafted(KEY, {"cfg_v": 5, "uplink_mode": "burst"})

    results = _apply_on_firmware(tmp_path, [first, first, wrong_key, invalid, unknown, invalid_mode])

    applied, again, bad_signature, rejected, unknown_key, rejected_mode = results
    assert applied[:3] == ["applied", 1, None]
    assert applied[3] == {**BASE_CONFIG, "arm_delay_s": 5, "volume": 40, "after_cry": "finish",
                          "uplink_mode": "one_shot", "cfg_v": 1}
    assert again[:3] == ["unchanged", 1, None]
    assert bad_signature[:3] == ["rejected", 2, "bad signature"]
    assert rejected[:3] == ["rejected", 3, "uplink must be one of wifi, lte, got '5g'"]
    assert unknown_key[:3] == ["rejected", 4, "unknown key mqtt_host"]
    assert rejected_mode[:3] == ["rejected", 5, "uplink_mode must be one of session, one_shot, got 'burst'"]
    # A rejected configuration leaves the applied one in place.
    for result in (bad_signature, rejected, unknown_key, rejected_mode):
        assert result[3] == applied[3]

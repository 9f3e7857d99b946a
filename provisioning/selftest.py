"""The self-test after flashing, run through the REPL with the jig: light, speaker, battery, MQTT."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from provisioning.jig import OperatorJig, VirtualJig
from provisioning.repl import BoardRepl

# LiPo cell limits at the factory: below 3.3 V it is damaged or flat, above 4.25 V overcharged.
BATTERY_MIN_MV = 3300
BATTERY_MAX_MV = 4250
# RMS level (16-bit samples) the jig microphone must hear while the test sound plays.
SOUND_MIN_RMS = 300.0
# 0.1 s of the cry: 8 kHz, 16-bit mono.
TEST_SOUND_BYTES = 1600
SETTLE_S = 0.05

_SETUP = """
import board, config, json
_cfg = config.load()
_board = board.Board(_cfg.board if _cfg else board.DEFAULT_PINMAP)
"""

_PLAY = """
import time
_board.audio_start(8000, 16, 1024)
_f = open('cry.pcm', 'rb')
_buf = bytearray(512)
_left = {size}
while _left > 0:
    _n = _f.readinto(_buf)
    if not _n:
        break
    _board.audio_write(memoryview(_buf)[:min(_n, _left)])
    _left -= _n
_f.close()
# Let the DMA play what is still in its 1024-byte buffer (64 ms) before the amplifier stops.
time.sleep_ms(80)
_board.audio_stop()
print('played')
"""

_PUBLISH = """
import mqtt
_sock = _board.tcp_connect({host!r}, {port}, 5000)
_client = mqtt.MQTTClient({client_id!r})
_client.connect(_sock)
_packet_id = _client.publish({topic!r}, {payload!r}, qos=1)
_client.disconnect()
print(_packet_id)
"""


@dataclass
class CheckResult:
    name: str
    passed: bool
    value: float | None = None
    unit: str = ""
    detail: str = ""


def _light(repl: BoardRepl) -> tuple[int, int]:
    values = repl.evaluate("[_board.light_level(), _board.light_pin()]")
    return int(values[0]), int(values[1])


def run_self_test(repl: BoardRepl, jig: VirtualJig | OperatorJig, config: dict[str, Any],
                  broker: tuple[str, int]) -> list[CheckResult]:
    """Run every check and return them all; a failing check does not stop the others."""
    results: list[CheckResult] = []
    repl.run(_SETUP)
    threshold = int(config.get("light_threshold", 12000))
    hysteresis = int(config.get("light_hysteresis", 3000))

    jig.set_dark()
    time.sleep(SETTLE_S)
    level, pin = _light(repl)
    results.append(CheckResult(
        "light_dark", level < threshold - hysteresis and pin == 0, level, "adc",
        f"below {threshold - hysteresis}, comparator {pin}",
    ))

    jig.set_bright()
    time.sleep(SETTLE_S)
    level, pin = _light(repl)
    results.append(CheckResult(
        "light_bright", level >= threshold and pin == 1, level, "adc",
        f"at least {threshold}, comparator {pin}",
    ))

    jig.start_listening()
    repl.run(_PLAY.format(size=TEST_SOUND_BYTES))
    rms = jig.sound_level()
    if rms is None:
        assert isinstance(jig, OperatorJig)
        heard = jig.confirm_sound()
        results.append(CheckResult("speaker", heard, None, "", "operator confirmation"))
    else:
        results.append(CheckResult("speaker", rms >= SOUND_MIN_RMS, round(rms, 1), "rms",
                                   f"at least {SOUND_MIN_RMS:.0f}"))

    millivolts = int(repl.evaluate("_board.battery_mv()"))
    results.append(CheckResult(
        "battery", BATTERY_MIN_MV <= millivolts <= BATTERY_MAX_MV, millivolts, "mV",
        f"{BATTERY_MIN_MV}-{BATTERY_MAX_MV}",
    ))

    device_id = config["device_id"]
    payload = json.dumps({"type": "selftest", "device_id": device_id})
    host, port = broker
    try:
        output = repl.run(_PUBLISH.format(
            host=host, port=port, client_id=f"{device_id}-selftest",
            topic=f"ikki/v1/stickers/{device_id}/selftest", payload=payload.encode(),
        ))
        packet_id = int(output.strip().splitlines()[-1])
        results.append(CheckResult("mqtt_publish", packet_id > 0, packet_id, "packet id",
                                   f"PUBACK from {host}:{port}"))
    except Exception as error:  # noqa: BLE001 - any failure of the publish is this check's result
        results.append(CheckResult("mqtt_publish", False, None, "", str(error)[:200]))
    return results


def as_dicts(results: list[CheckResult]) -> list[dict[str, Any]]:
    return [asdict(result) for result in results]

"""The firmware's SIM7080G driver (modem.py) on the virtual board's UART, against the simulated modem.

The simulated modem bridges the modem's MQTT commands to a real Mosquitto broker, where an
observer checks what arrived. Faults: no network registration, ERROR replies, no reply.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simulator.events import EVENTS_TOPIC, mqtt_password, verify
from simulator.modem import SimulatedModem
from simulator.upython import run_micropython
from simulator.vboard import HARDWARE_MODULES_DIR, VirtualBoard, make_config

PUBLISH = """
import json
import machine
from modem import SIM7080, ModemError, ModemTimeout

modem = SIM7080(machine.UART(1, 115200), timeout_ms={timeout_ms})
try:
    modem.mqtt_connect("127.0.0.1", {port}, "{device_id}", "{device_id}", "{password}", 60, {register_ms})
    modem.mqtt_publish("{topic}", b'{{"seq":1,"type":"opened"}}', qos=1)
    modem.mqtt_disconnect()
    print(json.dumps({{"outcome": "published"}}))
except ModemTimeout as error:
    print(json.dumps({{"outcome": "timeout", "error": str(error)}}))
except ModemError as error:
    print(json.dumps({{"outcome": "error", "error": str(error)}}))
"""


@pytest.fixture
def modem_board(tmp_path: Path, broker, device):
    device_id, key = device
    board = VirtualBoard(tmp_path / "board", make_config(device_id, key.hex(), mqtt_port=broker.port))
    board.install()
    with SimulatedModem() as modem:
        board.attach_modem(modem.port)
        yield board, modem


def _publish(board: VirtualBoard, broker, device, timeout_ms: int = 2000, register_ms: int = 2000) -> dict:
    device_id, key = device
    script = board.flash_dir / "modem_publish.py"
    script.write_text(PUBLISH.format(
        timeout_ms=timeout_ms, register_ms=register_ms, port=broker.port, device_id=device_id,
        password=mqtt_password(key), topic=EVENTS_TOPIC.format(device_id=device_id),
    ))
    result = run_micropython(script.name, cwd=board.flash_dir, path=[HARDWARE_MODULES_DIR],
                             env=board.firmware_env(), timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_modem_publishes_through_broker(modem_board, broker, observer, device):
    board, modem = modem_board
    device_id, _ = device

    outcome = _publish(board, broker, device)

    topic = EVENTS_TOPIC.format(device_id=device_id)
    deadline = time.monotonic() + 5
    while not observer.on_topic(topic) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert outcome == {"outcome": "published"}
    assert observer.on_topic(topic) == [b'{"seq":1,"type":"opened"}']
    assert modem.commands[0] == "AT+CEREG?"
    assert "AT+SMCONN" in modem.commands
    assert modem.commands[-1] == "AT+CNACT=0,0"


def test_modem_without_network_gives_up(modem_board, broker, device):
    board, modem = modem_board
    modem.fault = "unregistered"

    outcome = _publish(board, broker, device, register_ms=1500)

    assert outcome["outcome"] == "error"
    assert outcome["error"] == "not registered on a network after 1500 ms (CEREG status 2)"


def test_modem_error_reply_is_reported(modem_board, broker, device):
    board, modem = modem_board
    modem.fault = "error"

    outcome = _publish(board, broker, device)

    assert outcome == {"outcome": "error", "error": "AT+CEREG? failed: ERROR"}


def test_silent_modem_times_out(modem_board, broker, device):
    board, modem = modem_board
    modem.fault = "silent"

    outcome = _publish(board, broker, device, timeout_ms=400)

    assert outcome == {"outcome": "timeout", "error": "AT+CEREG? timed out after 400 ms"}


def test_sticker_reports_opening_over_lte(tmp_path: Path, broker, observer, device):
    device_id, key = device
    config = make_config(device_id, key.hex(), mqtt_port=broker.port, uplink="lte",
                         arm_delay_s=0.3, debounce_ms=50, cry_max_s=0.5, cry_stop_dark_s=0.1,
                         heartbeat_s=0, retry_min_s=0.2, retry_max_s=1)
    board = VirtualBoard(tmp_path / "lte-board", config)
    board.install()
    board.set_wifi(False)  # no access point: only the modem can deliver
    board.close_envelope()
    topic = EVENTS_TOPIC.format(device_id=device_id)
    with SimulatedModem() as modem:
        board.attach_modem(modem.port)
        board.start()
        try:
            board.wait_for_state("armed", 15)
            board.open_envelope()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                types = [verify(payload, key)["type"] for payload in observer.on_topic(topic)]
                if "opened" in types:
                    break
                time.sleep(0.05)
        finally:
            board.stop()

    assert types[:3] == ["boot", "armed", "opened"]
    assert any(command.startswith('AT+SMPUB="' + topic) for command in modem.commands)
    assert not [event for event in board.hardware_events() if event["event"] == "wlan.connect"]

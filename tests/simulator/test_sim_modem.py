"""The firmware's SIM7080G driver (modem.py) on the virtual board's UART, against the simulated modem.

The simulated modem bridges the modem's MQTT commands to a real Mosquitto broker, where an
observer checks what arrived. It is off until the firmware presses its PWRKEY through the
board module. Faults: no network registration, ERROR replies, no reply, a lost link.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from simulator.events import EVENTS_TOPIC, STATUS_TOPIC, mqtt_password, verify
from simulator.modem import SimulatedModem
from simulator.upython import run_micropython
from simulator.vboard import HARDWARE_MODULES_DIR, VirtualBoard, make_config

# Powers the modem on through the board module, connects with the last will,
# publishes, then ends the session as `finish` sets: "clean" (AT+SMDISC and
# AT+CPOWD=1), "stay" (nothing: the modem stays on and connected after the
# script) or "silent_power_off" (AT+CPOWD=1 to a silent modem).
PUBLISH = """
import json
from board import Board
from modem import SIM7080, ModemError, ModemTimeout

board = Board("{pinmap}")
modem = SIM7080(board.modem_uart(), timeout_ms={timeout_ms}, press_power_key=board.modem_power_key)
result = {{}}
try:
    result["pressed"] = modem.power_on({power_on_ms})
    modem.mqtt_connect("127.0.0.1", {port}, "{device_id}", "{device_id}", "{password}", 60, {register_ms},
                       ("{status_topic}", "offline", True, 1))
    modem.mqtt_publish("{status_topic}", b"online", qos=0, retain=True)
    modem.mqtt_publish("{topic}", b'{{"seq":1,"type":"opened"}}', qos=1)
    if "{finish}" == "clean":
        modem.mqtt_disconnect()
        result["off"] = modem.power_off()
    elif "{finish}" == "silent_power_off":
        open("silent.request", "w").close()
        while True:
            try:
                open("silent.done").close()
                break
            except OSError:
                pass
        result["off"] = modem.power_off(500)
    result["outcome"] = "published"
except ModemTimeout as error:
    result.update({{"outcome": "timeout", "error": str(error)}})
except ModemError as error:
    result.update({{"outcome": "error", "error": str(error)}})
print(json.dumps(result))
"""


@pytest.fixture
def modem_board(tmp_path: Path, broker, device):
    device_id, key = device
    board = VirtualBoard(tmp_path / "board", make_config(device_id, key.hex(), mqtt_port=broker.port))
    board.install()
    with SimulatedModem() as modem:
        modem.attach(board)
        yield board, modem


def _publish(board: VirtualBoard, broker, device, timeout_ms: int = 2000, register_ms: int = 2000,
             power_on_ms: int = 3000, finish: str = "clean", on_request=None) -> dict:
    device_id, key = device
    script = board.flash_dir / "modem_publish.py"
    script.write_text(PUBLISH.format(
        pinmap=board.pinmap, timeout_ms=timeout_ms, register_ms=register_ms, power_on_ms=power_on_ms,
        port=broker.port, device_id=device_id, password=mqtt_password(key),
        topic=EVENTS_TOPIC.format(device_id=device_id),
        status_topic=STATUS_TOPIC.format(device_id=device_id), finish=finish,
    ))
    result = run_micropython(script.name, cwd=board.flash_dir, path=[HARDWARE_MODULES_DIR],
                             env=board.firmware_env(), timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _wait_for_messages(observer, topic: str, count: int, timeout: float = 5.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while len(observer.on_topic(topic)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return observer.on_topic(topic)


def test_modem_publishes_through_broker(modem_board, broker, observer, device):
    board, modem = modem_board
    device_id, _ = device

    outcome = _publish(board, broker, device)

    topic = EVENTS_TOPIC.format(device_id=device_id)
    assert outcome == {"outcome": "published", "pressed": True, "off": "command"}
    assert _wait_for_messages(observer, topic, 1) == [b'{"seq":1,"type":"opened"}']
    assert modem.commands[0] == "AT"
    assert "AT+SMCONN" in modem.commands
    assert modem.commands[-3:] == ["AT+SMDISC", "AT+CNACT=0,0", "AT+CPOWD=1"]


def test_modem_is_off_until_pwrkey_press(modem_board, broker, device):
    board, modem = modem_board

    outcome = _publish(board, broker, device)

    # The first probe got no response: the modem was off until the press.
    assert modem.ignored[0] == "AT"
    assert modem.power == "off"
    assert len(modem.power_periods) == 1
    period = modem.power_periods[0]
    assert period.off_by == "AT+CPOWD"
    assert 0 < modem.on_seconds() < 5
    assert outcome["pressed"] is True
    presses = [event for event in board.hardware_events() if event["event"] == "pin"
               and event["gpio"] == 16 and event["value"] == 1]
    assert len(presses) == 1


def test_short_pwrkey_press_leaves_modem_off(modem_board):
    board, modem = modem_board
    script = board.flash_dir / "short_press.py"
    script.write_text(
        "from board import Board\n"
        "from modem import SIM7080\n"
        f"board = Board('{board.pinmap}')\n"
        "modem = SIM7080(board.modem_uart(), press_power_key=board.modem_power_key)\n"
        "board.modem_power_key(500)\n"
        "board.sleep_ms(600)\n"
        "print(modem.responds_to_at(500))\n"
    )

    result = run_micropython(script.name, cwd=board.flash_dir, path=[HARDWARE_MODULES_DIR],
                             env=board.firmware_env(), timeout=30)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert modem.power == "off"
    assert modem.power_periods == []
    assert modem.ignored == ["AT"]


def test_silent_modem_is_switched_off_by_pwrkey(modem_board, broker, device):
    board, modem = modem_board
    request = board.flash_dir / "silent.request"
    done = board.flash_dir / "silent.done"

    def silence_when_asked() -> None:
        deadline = time.monotonic() + 20
        while not request.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        modem.fault = "silent"
        done.touch()

    helper = threading.Thread(target=silence_when_asked, daemon=True)
    helper.start()
    outcome = _publish(board, broker, device, finish="silent_power_off")
    helper.join(5)

    assert outcome["off"] == "power_key"
    modem.wait_for_power("off", 2)
    assert modem.power_periods[-1].off_by == "PWRKEY"
    assert modem.commands[-1] == "AT+CPOWD=1"


def test_last_will_published_when_link_drops(modem_board, broker, observer, device):
    board, modem = modem_board
    status_topic = STATUS_TOPIC.format(device_id=device[0])

    outcome = _publish(board, broker, device, finish="stay")
    online = _wait_for_messages(observer, status_topic, 1)
    modem.drop_link()
    after_drop = _wait_for_messages(observer, status_topic, 2)

    assert outcome["outcome"] == "published"
    assert modem.will == (status_topic, "offline", 1, True)
    assert online == [b"online"]
    assert after_drop == [b"online", b"offline"]


def test_no_last_will_after_clean_disconnect(modem_board, broker, observer, device):
    board, modem = modem_board
    status_topic = STATUS_TOPIC.format(device_id=device[0])

    outcome = _publish(board, broker, device, finish="clean")
    online = _wait_for_messages(observer, status_topic, 1)
    # The power-down after AT+SMDISC must not let the broker publish the will.
    time.sleep(1.0)

    assert outcome["off"] == "command"
    assert modem.will == (status_topic, "offline", 1, True)
    assert online == [b"online"]
    assert observer.on_topic(status_topic) == [b"online"]


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

    assert outcome == {"outcome": "error", "error": "AT+CEREG? failed: ERROR", "pressed": True}


def test_silent_modem_times_out(modem_board, broker, device):
    board, modem = modem_board
    modem.fault = "silent"

    outcome = _publish(board, broker, device, timeout_ms=400, power_on_ms=1000)

    assert outcome == {
        "outcome": "timeout",
        "error": "the modem did not respond to AT within 1000 ms after the PWRKEY press",
    }
    # The press switched it on, and it ignored every AT probe.
    assert modem.power == "on"
    assert modem.commands[0] == "AT"
    assert set(modem.commands) == {"AT"}


def _lte_config(device, broker, **settings) -> dict:
    device_id, key = device
    return make_config(device_id, key.hex(), mqtt_port=broker.port, uplink="lte", arm_delay_s=0.3,
                       debounce_ms=50, cry_max_s=0.5, cry_stop_dark_s=0.1, heartbeat_s=0,
                       retry_min_s=0.2, retry_max_s=1, **settings)


def test_sticker_reports_opening_over_lte(tmp_path: Path, broker, observer, device):
    device_id, key = device
    board = VirtualBoard(tmp_path / "lte-board", _lte_config(device, broker))
    board.install()
    board.set_wifi(False)  # no access point: only the modem can deliver
    board.close_envelope()
    topic = EVENTS_TOPIC.format(device_id=device_id)
    started = time.monotonic()
    with SimulatedModem() as modem:
        modem.attach(board)
        board.start()
        try:
            board.wait_for_state("armed", 15)
            power_while_armed = modem.power
            board.open_envelope()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                types = [verify(payload, key)["type"] for payload in observer.on_topic(topic)]
                if "opened" in types:
                    break
                time.sleep(0.05)
            since = board.console_size()
            board.close_envelope()
            board.wait_for_transition("armed", 15, since=since)
            power_while_armed_again = modem.power
            periods = list(modem.power_periods)
            on_s = modem.on_seconds()
        finally:
            board.stop()
    elapsed_s = time.monotonic() - started

    assert types[:3] == ["boot", "armed", "opened"]
    assert any(command.startswith('AT+SMPUB="' + topic) for command in modem.commands)
    assert not [event for event in board.hardware_events() if event["event"] == "wlan.connect"]
    # Off while the sticker sleeps: one modem session before each armed sleep.
    assert power_while_armed == "off"
    assert power_while_armed_again == "off"
    assert [period.off_by for period in periods] == ["AT+CPOWD", "AT+CPOWD"]
    assert on_s < elapsed_s


def test_last_will_published_when_board_loses_power(tmp_path: Path, broker, observer, device):
    device_id = device[0]
    board = VirtualBoard(tmp_path / "lte-board", _lte_config(device, broker))
    board.install()
    board.set_wifi(False)
    board.open_envelope()  # in light the sticker stays awake, and connected
    status_topic = STATUS_TOPIC.format(device_id=device_id)
    with SimulatedModem() as modem:
        modem.attach(board)
        board.start()
        try:
            observer.wait_for(EVENTS_TOPIC.format(device_id=device_id), 1, 15)
            online = _wait_for_messages(observer, status_topic, 1)
            board.power_cut(off_s=0.5)
            statuses = _wait_for_messages(observer, status_topic, 2)
            modem.wait_for_power("off", 2)
            off_by = modem.power_periods[0].off_by
        finally:
            board.stop()

    assert online == [b"online"]
    assert statuses[:2] == [b"online", b"offline"]
    assert off_by == "power loss"

"""One-shot uplink mode on the virtual board, against a real Mosquitto.

In one-shot mode the sticker connects for each batch of events, waits for every PUBACK,
disconnects and switches the uplink off at once, even while it stays awake. In session
mode the connection stays open until deep sleep.
"""

from __future__ import annotations

from pathlib import Path

from simulator.events import EVENTS_TOPIC, STATUS_TOPIC, verify
from simulator.modem import SimulatedModem
from simulator.vboard import VirtualBoard, make_config


def _config(device, broker, **settings) -> dict:
    device_id, key = device
    return make_config(device_id, key.hex(), mqtt_port=broker.port, debounce_ms=50,
                       heartbeat_s=0, retry_min_s=0.2, retry_max_s=1, **settings)


def _first_sleep_wifi(board: VirtualBoard) -> tuple[list[tuple[bool, int]], int]:
    # The Wi-Fi switches of the first boot, and when that boot went to deep sleep.
    events = [event for event in board.hardware_events() if event["boot"] == 1]
    sleep_us = next(event["t_us"] for event in events if event["event"] == "deepsleep")
    wifi = [(event["active"], event["t_us"]) for event in events if event["event"] == "wlan.active"]
    return wifi, sleep_us


def _run_until_armed(board: VirtualBoard, observer, device) -> tuple[list[str], list[bytes]]:
    device_id, key = device
    board.install()
    board.close_envelope()
    board.start()
    try:
        board.wait_for_state("armed", 20)
    finally:
        board.stop()
    types = [verify(payload, key)["type"] for payload in observer.on_topic(EVENTS_TOPIC.format(device_id=device_id))]
    return types, observer.on_topic(STATUS_TOPIC.format(device_id=device_id))


def test_one_shot_wifi_is_off_while_awake(tmp_path: Path, broker, observer, device):
    board = VirtualBoard(tmp_path / "board", _config(device, broker, arm_delay_s=1.5, uplink_mode="one_shot"))

    types, statuses = _run_until_armed(board, observer, device)
    wifi, sleep_us = _first_sleep_wifi(board)

    assert types == ["boot", "armed"]
    # The boot event and the armed event each had their own connection.
    assert [active for active, _ in wifi] == [True, False, True, False]
    # Wi-Fi went off after the boot event, well before the armed sleep.
    assert sleep_us - wifi[1][1] > 1_000_000
    assert statuses == [b"online", b"asleep", b"online", b"asleep"]


def test_session_wifi_stays_on_until_sleep(tmp_path: Path, broker, observer, device):
    board = VirtualBoard(tmp_path / "board", _config(device, broker, arm_delay_s=1.5))

    types, statuses = _run_until_armed(board, observer, device)
    wifi, sleep_us = _first_sleep_wifi(board)

    assert types == ["boot", "armed"]
    assert [active for active, _ in wifi] == [True, False]
    assert sleep_us - wifi[1][1] < 500_000
    assert statuses == [b"online", b"asleep"]


def test_one_shot_modem_is_off_while_awake(tmp_path: Path, broker, observer, device):
    device_id, key = device
    config = _config(device, broker, arm_delay_s=0.3, uplink="lte", uplink_mode="one_shot")
    board = VirtualBoard(tmp_path / "lte-board", config)
    board.install()
    board.set_wifi(False)
    board.open_envelope()  # in light the sticker stays awake
    events_topic = EVENTS_TOPIC.format(device_id=device_id)
    with SimulatedModem() as modem:
        modem.attach(board)
        board.start()
        try:
            observer.wait_for(events_topic, 1, 15)
            modem.wait_for_power("off", 10)
            awake = board.state()
            first_session = modem.power_periods[0]
            since = board.console_size()
            board.close_envelope()
            board.wait_for_transition("armed", 15, since=since)
            periods = list(modem.power_periods)
        finally:
            board.stop()

    types = [verify(payload, key)["type"] for payload in observer.on_topic(events_topic)]
    assert types == ["boot", "armed"]
    # The modem went off after the boot event while the sticker stayed awake in light.
    assert (awake["state"], awake["process"]) == ("idle", "running")
    assert first_session.off_by == "AT+CPOWD"
    assert [period.off_by for period in periods] == ["AT+CPOWD", "AT+CPOWD"]
    assert observer.on_topic(STATUS_TOPIC.format(device_id=device_id)) == [
        b"online", b"asleep", b"online", b"asleep"
    ]


def test_one_shot_reports_opening(tmp_path: Path, broker, observer, device):
    device_id, key = device
    config = _config(device, broker, arm_delay_s=0.3, cry_max_s=0.5, cry_stop_dark_s=0.1,
                     uplink_mode="one_shot")
    board = VirtualBoard(tmp_path / "board", config)
    board.install()
    board.close_envelope()
    events_topic = EVENTS_TOPIC.format(device_id=device_id)
    board.start()
    try:
        board.wait_for_state("armed", 15)
        board.open_envelope()
        observer.wait_for(events_topic, 3, 15)
        since = board.console_size()
        board.close_envelope()
        board.wait_for_transition("armed", 15, since=since)
    finally:
        board.stop()

    types = [verify(payload, key)["type"] for payload in observer.on_topic(events_topic)]
    assert types[:3] == ["boot", "armed", "opened"]
    assert b"offline" not in observer.on_topic(STATUS_TOPIC.format(device_id=device_id))

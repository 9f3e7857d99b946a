"""The virtual board: real firmware on the MicroPython unix port, a real broker, real time."""

from __future__ import annotations

import concurrent.futures
import math
import struct
import time
import wave
from pathlib import Path

import pytest

from simulator.events import EVENTS_TOPIC, STATUS_TOPIC, verify
from simulator.vboard import FIRMWARE_DIR, LIGHT_OPEN, VirtualBoard, make_config

SAMPLE_RATE = 8000
CRY_MAX_S = 2.0
CRY_STOP_DARK_S = 0.5
DEBOUNCE_MS = 200


def _config(device: tuple[str, bytes], port: int, **settings) -> dict:
    device_id, key = device
    values = {
        "arm_delay_s": 0.5,
        "debounce_ms": DEBOUNCE_MS,
        "cry_max_s": CRY_MAX_S,
        "cry_stop_dark_s": CRY_STOP_DARK_S,
        "volume": 100,
        "heartbeat_s": 0,
        "retry_min_s": 0.2,
        "retry_max_s": 2,
    }
    values.update(settings)
    return make_config(device_id, key.hex(), mqtt_port=port, **values)


def _wait_until(condition, timeout: float, description: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{description} not reached within {timeout} s")
        time.sleep(0.02)


def _wait_armed_asleep(board: VirtualBoard, timeout: float = 10.0) -> dict:
    # Armed is written just before deep sleep; wait for the process to end too.
    _wait_until(
        lambda: board.state()["state"] == "armed" and board.state()["process"] == "sleeping",
        timeout,
        "armed deep sleep",
    )
    return board.state()


def _audio_sessions(board: VirtualBoard) -> list[dict]:
    return [event for event in board.hardware_events() if event["event"] == "i2s.deinit"]


def _wav_samples(board: VirtualBoard, session: dict) -> list[int]:
    with wave.open(str(board.wav_path)) as stream:
        assert (stream.getframerate(), stream.getsampwidth(), stream.getnchannels()) == (
            SAMPLE_RATE,
            2,
            1,
        )
        frames = stream.readframes(stream.getnframes())
    data = frames[session["start_byte"] : session["start_byte"] + session["played_bytes"]]
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def _rms(values: list[int]) -> float:
    return math.sqrt(sum(value * value for value in values) / len(values))


def _events(observer, device: tuple[str, bytes]) -> list[dict]:
    device_id, key = device
    return [
        verify(payload, key)
        for payload in observer.on_topic(EVENTS_TOPIC.format(device_id=device_id))
    ]


def _wait_for_events(
    observer, device, event_type: str, count: int = 1, timeout: float = 5.0
) -> list[dict]:
    """Wait until `count` events of `event_type` arrived; return every event, in arrival order."""
    deadline = time.monotonic() + timeout
    while True:
        events = _events(observer, device)
        if len([event for event in events if event["type"] == event_type]) >= count:
            return events
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{count} {event_type!r} events not received; got {[e['type'] for e in events]}"
            )
        time.sleep(0.02)


def test_armed_sticker_cries_then_reports_opened(tmp_path: Path, broker, observer, device):
    device_id, _ = device
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port))
    board.install()
    board.close_envelope()
    board.start()
    try:
        _wait_armed_asleep(board)
        before_opening = _wait_for_events(observer, device, "armed")
        mark = board.console_size()

        board.open_envelope()
        board.wait_for_state("crying", 5)
        _wait_for_events(observer, device, "opened")
        board.wait_for_transition("done", CRY_MAX_S + 3, since=mark)
        board.close_envelope()
        _wait_armed_asleep(board)
        events = _wait_for_events(observer, device, "armed", count=2)
    finally:
        board.stop()

    assert [event["type"] for event in events] == ["boot", "armed", "opened", "armed"]
    boot, armed, opened, _ = events
    assert before_opening == [boot, armed]
    assert boot["reset"] == "power_on"
    assert boot["seq"] < armed["seq"] < opened["seq"]
    assert opened["type"] == "opened"
    assert opened["dev"] == device_id
    assert opened["v"] == 1
    assert opened["fw"] == "0.1.0"
    assert opened["light"] == LIGHT_OPEN
    assert abs(opened["batt_mv"] - 3900) <= 10
    assert 0 <= opened["age"] < 3000
    assert observer.on_topic(STATUS_TOPIC.format(device_id=device_id))[-1] == b"asleep"

    sessions = _audio_sessions(board)
    assert len(sessions) == 1
    samples = _wav_samples(board, sessions[0])
    assert abs(len(samples) / SAMPLE_RATE - CRY_MAX_S) < 0.15
    assert _rms(samples) > 5000

    # At volume 100 the speaker plays cry.pcm itself, looped.
    loop = (FIRMWARE_DIR / "cry.pcm").read_bytes()
    captured = struct.pack(f"<{len(samples)}h", *samples)
    start = captured.find(loop[:4096])
    assert 0 <= start < SAMPLE_RATE // 10 * 2  # within the first 100 ms
    expected = (loop * 3)[: len(captured) - start]
    # The amplifier goes off a moment before I2S stops; the speaker is silent then.
    body = len(expected) - SAMPLE_RATE // 50 * 2  # all but the last 20 ms
    pairs = zip(captured[start : start + body], expected[:body], strict=True)
    mismatch = next((i for i, (got, want) in enumerate(pairs) if got != want), None)
    assert mismatch is None, (
        f"captured sound differs from cry.pcm at {(start + (mismatch or 0)) / 2 / SAMPLE_RATE:.3f} s"
    )
    last_samples = struct.unpack(f"<{(len(expected) - body) // 2}h", captured[start + body :])
    expected_last = struct.unpack(f"<{(len(expected) - body) // 2}h", expected[body:])
    assert all(got in (want, 0) for got, want in zip(last_samples, expected_last, strict=True))


def test_cry_starts_before_journal_and_network(tmp_path: Path, broker, observer, device):
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port))
    board.install()
    board.close_envelope()
    board.start()
    try:
        _wait_armed_asleep(board)
        mark = board.console_size()
        board.open_envelope()
        board.wait_for_transition("done", CRY_MAX_S + 3, since=mark)
    finally:
        board.stop()

    wake_boot = next(
        event["boot"] for event in board.hardware_events() if event["event"] == "i2s.init"
    )
    events = [event for event in board.hardware_events() if event["boot"] == wake_boot]
    names = [event["event"] for event in events]
    assert names.index("i2s.first_write") < names.index("wlan.active")
    console = [
        entry["event"] + ":" + str(entry.get("state", entry.get("type", "")))
        for entry in board.console_events(mark)
    ]
    assert (
        console.index("state:crying")
        < console.index("event.recorded:opened")
        < console.index("wifi.connect:")
    )


def test_flash_ignored_but_opening_cries(tmp_path: Path, broker, observer, device):
    # A long debounce, so the second flash outlasts the boot (tens of ms
    # idle, several hundred on a loaded machine) and still stays below it.
    debounce_ms = 1000
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port, debounce_ms=debounce_ms))
    board.install()
    board.close_envelope()
    board.start()
    try:
        boots = _wait_armed_asleep(board)["boots"]
        mark = board.console_size()

        # Each flash wakes the chip; the firmware must ignore it and sleep
        # again. The 600 ms one outlasts the boot, so the firmware reads
        # light and the debounce rejects it.
        flash_events = []
        for flash_s in (0.05, 0.6):
            board.open_envelope()
            time.sleep(flash_s)
            board.close_envelope()
            _wait_until(
                lambda before=boots: board.state()["boots"] > before, 2, "wake-up by the flash"
            )
            boots = _wait_armed_asleep(board)["boots"]
            flash_events += board.console_events(mark)
            mark = board.console_size()

        mark = board.console_size()
        board.open_envelope()
        time.sleep(1.6)
        board.close_envelope()
        board.wait_for_transition("done", 5, since=mark)
        opening_events = board.console_events(mark)
        events = _wait_for_events(observer, device, "opened")
    finally:
        board.stop()

    ignored = [entry for entry in flash_events if entry["event"] == "wake.ignored"]
    assert len(ignored) == 2
    assert 0 < int(ignored[1]["light_ms"]) < debounce_ms
    assert not [entry for entry in flash_events if entry["event"] == "cry.stop"]
    assert not [entry for entry in flash_events if entry.get("state") == "crying"]
    assert [event["type"] for event in events] == ["boot", "armed", "opened"]

    stop = next(entry for entry in opening_events if entry["event"] == "cry.stop")
    assert stop["reason"].startswith("dark for")
    # Light 1.6 s, minus the boot and the 1 s debounce, plus 0.5 s of dark:
    # about 1 s.
    samples = _wav_samples(board, _audio_sessions(board)[0])
    assert 0.5 < len(samples) / SAMPLE_RATE < 1.4


def test_power_cut_keeps_journal_and_sequence(tmp_path: Path, broker, observer, device):
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port))
    board.install()
    board.close_envelope()
    board.start()
    try:
        _wait_armed_asleep(board)
        _wait_for_events(observer, device, "armed")
        broker.stop()

        mark = board.console_size()
        board.open_envelope()
        board.wait_for_state("crying", 5)
        _wait_until(
            lambda: any(entry["event"] == "report.retry" for entry in board.console_events(mark)),
            5,
            "a failed delivery of the opened event",
        )
        # The board stays off while the broker and the observer come back.
        board.power_cut(off_s=3.0)
        broker.start()
        observer.wait_subscribed(2.5)
        assert board.state()["power"] == "off"
        events = _wait_for_events(observer, device, "boot", count=2, timeout=10)
    finally:
        board.stop()

    assert [event["type"] for event in events] == ["boot", "armed", "opened", "boot"]
    assert [event["seq"] for event in events] == sorted({event["seq"] for event in events})
    assert events[3]["reset"] == "power_on"
    # The RTC restarted with the power, so the device cannot know the age.
    assert events[2]["age"] == 0


def test_heartbeat_wakes_armed_sticker_on_timer(tmp_path: Path, broker, observer, device):
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port, heartbeat_s=1))
    board.install()
    board.close_envelope()
    board.start()
    try:
        events = _wait_for_events(observer, device, "heartbeat", count=2, timeout=8)
        state = _wait_armed_asleep(board)
    finally:
        board.stop()

    assert [event["type"] for event in events[:4]] == ["boot", "armed", "heartbeat", "heartbeat"]
    assert events[2]["state"] == "armed"
    assert events[2]["seq"] < events[3]["seq"]
    assert state["sleep"]["timer_ms"] > 0
    assert (
        "--- vboard: boot 3: reset cause deepsleep, wake reason timer"
        in board.console_path.read_text()
    )


def test_unprovisioned_board_says_so_from_background_thread(micropython_available, tmp_path: Path):
    board = VirtualBoard(tmp_path / "board")
    board.install()

    # The web app supervises its demo sticker from a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(board.start).result()
    try:
        state = board.wait_for_state("unprovisioned", 5)
        _wait_until(lambda: board.state()["process"] == "halted", 5, "halted at the REPL")
    finally:
        board.stop()

    assert state["reason"] == "no config.json on flash"
    assert board.state()["state"] == "off"


def test_second_supervisor_is_rejected(micropython_available, tmp_path: Path):
    board = VirtualBoard(tmp_path / "board")
    board.install()
    board.start()
    try:
        with pytest.raises(RuntimeError, match="already supervised"):
            VirtualBoard(tmp_path / "board").start()
    finally:
        board.stop()


STUCK_FIRMWARE = """
import time
import machine
if machine.reset_cause() == machine.WDT_RESET:
    print("after watchdog reset")
else:
    machine.WDT(id=0, timeout=300)
    while True:  # stuck, never feeding the watchdog
        time.sleep_ms(50)
"""


def test_watchdog_resets_stuck_firmware(micropython_available, tmp_path: Path, device):
    board = VirtualBoard(tmp_path / "board", _config(device, 1883))
    board.install()
    (board.flash_dir / "main.py").write_text(STUCK_FIRMWARE)
    board.start()
    try:
        _wait_until(lambda: board.state()["process"] == "halted", 10, "the second boot")
        console = board.console_path.read_text()
        state = board.state()
    finally:
        board.stop()

    assert "--- vboard: watchdog reset" in console
    assert "boot 2: reset cause watchdog" in console
    assert "after watchdog reset" in console
    assert state["boots"] == 2


def test_finish_after_cry_sleeps_for_good(tmp_path: Path, broker, observer, device):
    # after_cry "finish": one opening, then deep sleep without a light wake-up,
    # also after a power cut.
    board = VirtualBoard(
        tmp_path / "board", _config(device, broker.port, after_cry="finish", cry_max_s=0.5)
    )
    board.install()
    board.close_envelope()
    board.start()
    try:
        _wait_armed_asleep(board)
        mark = board.console_size()
        board.open_envelope()
        board.wait_for_transition("done", 10, since=mark)
        _wait_until(
            lambda: board.state()["state"] == "done" and board.state()["process"] == "sleeping",
            10,
            "the final deep sleep",
        )
        finished_sleep = board.state()["sleep"]
        boots = board.state()["boots"]
        time.sleep(0.5)  # still in light: no wake-up
        boots_in_light = board.state()["boots"]
        board.power_cut()
        _wait_until(
            lambda: board.state()["state"] == "done" and board.state()["process"] == "sleeping",
            10,
            "the deep sleep after the power cut",
        )
        transitions = [entry["state"] for entry in board.transitions(mark)]
    finally:
        board.stop()

    assert finished_sleep["ext0"] is None
    assert boots_in_light == boots
    assert (board.flash_dir / "finished").exists()
    assert "crying" in transitions
    assert transitions.count("crying") == 1
    assert [event["type"] for event in _events(observer, device)].count("opened") == 1


def test_battery_sag_records_low_battery_once(tmp_path: Path, broker, observer, device):
    # 3600 mV at rest, 3300 mV while the speaker plays: only the cry shows it.
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port, low_battery_mv=3450))
    board.install()
    board.close_envelope()
    board.set_battery(3600, speaker_sag_mv=300)
    board.start()
    try:
        _wait_armed_asleep(board)
        board.open_envelope()
        events = _wait_for_events(observer, device, "opened", timeout=10)
        board.close_envelope()
        _wait_armed_asleep(board)
        events = _events(observer, device)
    finally:
        board.stop()

    boot = next(event for event in events if event["type"] == "boot")
    opened = next(event for event in events if event["type"] == "opened")
    low = [event for event in events if event["type"] == "low_battery"]
    assert boot["batt_mv"] > 3450
    assert opened["batt_mv"] < 3450
    assert len(low) == 1
    assert low[0]["batt_mv"] == opened["batt_mv"]
    assert low[0]["limit_mv"] == 3450
    assert low[0]["seq"] > opened["seq"]

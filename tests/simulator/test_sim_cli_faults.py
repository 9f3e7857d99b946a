"""Fault commands of `sticker`: a board run by `sticker run` in one process, faults set from another.

The supervisor runs in a subprocess. The commands run here through click's
CliRunner, so every fault reaches it through the board's control files, as
from a second shell.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import sticker
from simulator.events import EVENTS_TOPIC, verify
from simulator.vboard import REPO_ROOT, VirtualBoard, make_config

RUN_STICKER = "from simulator.cli import sticker; sticker(prog_name='sticker')"
SETTINGS = {
    "arm_delay_s": 0.3,
    "debounce_ms": 50,
    "cry_max_s": 0.6,
    "cry_stop_dark_s": 0.1,
    "heartbeat_s": 0,
    "retry_min_s": 0.2,
    "retry_max_s": 1,
}


def _invoke(*args: object):
    return CliRunner().invoke(sticker, [str(arg) for arg in args])


def _wait_until(condition: Callable[[], object], timeout: float, description: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{description} not reached within {timeout} s")
        time.sleep(0.02)


def _armed_asleep(board: VirtualBoard) -> bool:
    state = board.state()
    return state["state"] == "armed" and state["process"] == "sleeping"


def _events(observer, device) -> list[dict]:
    device_id, key = device
    topic = EVENTS_TOPIC.format(device_id=device_id)
    return [verify(payload, key) for payload in observer.on_topic(topic)]


def _event_types(observer, device) -> list[str]:
    return [event["type"] for event in _events(observer, device)]


def _console_events(board: VirtualBoard, name: str, since: int = 0) -> list[dict]:
    return [entry for entry in board.console_events(since) if entry["event"] == name]


@pytest.fixture
def run_board(tmp_path: Path, broker, device) -> Iterator[Callable[..., object]]:
    """Return a context manager that runs a board with `sticker run` in a subprocess.

    It yields the board once it is armed and asleep in the dark.
    """
    device_id, key = device

    @contextmanager
    def running(*options: str, **settings) -> Iterator[VirtualBoard]:
        config_file = tmp_path / "sticker.json"
        config = make_config(device_id, key.hex(), mqtt_port=broker.port, **{**SETTINGS, **settings})
        config_file.write_text(json.dumps(config))
        directory = tmp_path / "board"
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_STICKER, "run", str(directory), "--config", str(config_file),
             "--envelope", "closed", *options],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        board = VirtualBoard(directory)
        try:
            _wait_until(lambda: (directory / "hardware.json").exists() and _armed_asleep(board),
                        20, "armed deep sleep")
            yield board
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=15)
            assert process.returncode == 0, output

    return running


def test_power_cut_command_cuts_and_restores_power(run_board, observer, device):
    with run_board() as board:
        boots = board.state()["boots"]
        board.open_envelope()
        _wait_until(lambda: board.state()["state"] == "crying", 5, "crying")
        mark = board.console_size()

        cut = _invoke("power-cut", board.directory, "--off", "1.5")
        while_off = board.state()
        off_left_s = while_off["off_until"] - time.time()
        second_cut = _invoke("power-cut", board.directory)
        board.close_envelope()
        _wait_until(lambda: board.state()["power"] == "on", 5, "power back on")
        _wait_until(lambda: _event_types(observer, device).count("boot") == 2, 10, "second boot event")
        console = board.console_path.read_text()[mark:]

    assert cut.exit_code == 0, cut.output
    assert cut.output == "power cut: off for 1.5 s, then on again (RTC memory lost, flash kept)\n"
    assert while_off["power"] == "off"
    assert 0 < off_left_s <= 1.5
    assert second_cut.exit_code == 1
    assert "is off after a power cut" in second_cut.output
    assert f"--- vboard: power cut\n--- vboard: boot {boots + 2}: reset cause power_on" in console
    # RTC memory was lost: the firmware saw a power-on, not a wake-up.
    assert _events(observer, device)[-1]["reset"] == "power_on"


def test_power_cut_command_needs_running_board(micropython_available, tmp_path: Path):
    VirtualBoard(tmp_path / "board").install()

    result = _invoke("power-cut", tmp_path / "board", "--off", "1")

    assert result.exit_code == 1
    assert f"virtual board {tmp_path / 'board'} is not running" in result.output


def test_broker_down_command_delays_delivery(run_board, broker, observer, device):
    outage_s = 2.5
    with run_board() as board:
        down = _invoke("broker", board.directory, "down", "--for", outage_s)
        down_at = time.time()
        state = _invoke("state", board.directory)
        mark = board.console_size()
        board.open_envelope()
        _wait_until(lambda: "opened" in _event_types(observer, device), outage_s + 8, "opened event")
        delivered_at = time.time()
        retries = _console_events(board, "report.retry", mark)
        board.close_envelope()
        after = board.state()

    assert down.exit_code == 0, down.output
    assert down.output == f"broker 127.0.0.1:{broker.port} down for 2.5 s: connections refused\n"
    assert "faults: broker 127.0.0.1:" in state.output
    assert "refused for" in state.output
    assert retries, "no failed delivery during the outage"
    assert retries[0]["error"] == f"OSError({errno.ECONNREFUSED},)"
    assert delivered_at - down_at >= outage_s
    assert "broker" not in after["faults"]


def test_broker_drop_mode_until_up(run_board, observer, device):
    with run_board() as board:
        down = _invoke("broker", board.directory, "down", "--mode", "drop")
        mark = board.console_size()
        board.open_envelope()
        _wait_until(lambda: _console_events(board, "report.retry", mark), 10, "a failed delivery")
        during = _event_types(observer, device)
        faults = board.state()["faults"]
        up = _invoke("broker", board.directory, "up")
        _wait_until(lambda: "opened" in _event_types(observer, device), 10, "opened event")
        retries = _console_events(board, "report.retry", mark)

    assert down.exit_code == 0, down.output
    assert down.output.endswith(f"until `sticker broker {board.directory} up`: packets dropped\n")
    assert faults["broker"]["mode"] == "drop"
    assert faults["broker"]["left_s"] is None
    assert "opened" not in during
    assert retries[0]["error"] == f"OSError({errno.ETIMEDOUT},)"
    assert up.output == "broker reachable again\n"


def test_modem_fault_command_reaches_lte_modem(run_board, observer, device):
    with run_board(uplink="lte") as board:
        fault = _invoke("modem", board.directory, "error")
        mark = board.console_size()
        board.open_envelope()
        _wait_until(lambda: _console_events(board, "report.retry", mark), 10, "a failed delivery")
        during = _event_types(observer, device)
        state = board.state()
        cleared = _invoke("modem", board.directory, "ok")
        _wait_until(lambda: "opened" in _event_types(observer, device), 15, "opened event")
        retries = _console_events(board, "report.retry", mark)

    assert fault.exit_code == 0, fault.output
    assert fault.output == "modem fault: error\n"
    assert state["faults"]["modem"] == "error"
    assert "opened" not in during
    assert "ERROR" in retries[0]["error"]
    assert cleared.output == "modem fault cleared\n"


def test_flash_full_command_fills_and_frees_image(run_board, observer, device):
    with run_board("--flash", "image") as board:
        full = _invoke("flash", board.directory, "full", "--free-blocks", "1")
        state = _invoke("state", board.directory)
        # The wake-up boots with the flash full; the sticker re-arms in the dark.
        board.open_envelope()
        _wait_until(lambda: "opened" in _event_types(observer, device), 10, "opened event")
        board.close_envelope()
        _wait_until(lambda: _armed_asleep(board), 10, "armed deep sleep")
        free = _invoke("flash", board.directory, "free")
        # The next wake-up boots with the filler removed.
        board.open_envelope()
        _wait_until(lambda: _event_types(observer, device).count("opened") == 2, 10, "second opening")
        board.close_envelope()
        _wait_until(lambda: _armed_asleep(board), 10, "armed deep sleep")
    files = board.flash_files()
    freed = [event for event in board.hardware_events() if event["event"] == "flash.freed"]

    filled = [event for event in board.hardware_events() if event["event"] == "flash.filled"]
    assert full.exit_code == 0, full.output
    assert full.output == "flash full from the next boot: 1 blocks stay free\n"
    assert filled
    assert filled[0]["free_blocks"] <= 1
    assert filled[0]["filler_bytes"] > 1_000_000
    assert "faults: flash full (1 blocks free from the next boot)" in state.output
    assert free.output == "flash freed at the next boot: the filler file is removed\n"
    assert len(freed) == 1
    assert freed[0]["free_blocks"] > 400
    assert "vboard.fill" not in files


def test_battery_sag_command_shows_under_speaker_load(run_board, observer, device):
    with run_board(low_battery_mv=3450) as board:
        result = _invoke("battery", board.directory, "3600", "--speaker-sag", "300")
        state = _invoke("state", board.directory)
        board.open_envelope()
        _wait_until(lambda: "low_battery" in _event_types(observer, device), 10, "low_battery event")
        board.close_envelope()
    events = _events(observer, device)

    opened = next(event for event in events if event["type"] == "opened")
    low = next(event for event in events if event["type"] == "low_battery")
    assert result.exit_code == 0, result.output
    assert result.output == "battery 3600 mV, 3300 mV while the speaker plays\n"
    assert "battery sags 300 mV under the speaker" in state.output
    assert opened["batt_mv"] < 3450
    assert low["batt_mv"] == opened["batt_mv"]


def test_fault_commands_reject_bad_values(micropython_available, tmp_path: Path):
    directory_board = tmp_path / "directory-board"
    image_board = tmp_path / "image-board"
    VirtualBoard(directory_board).install()
    VirtualBoard(image_board, flash="image").install()

    cases = [
        (["power-cut", directory_board, "--off", "-1"], 2, "-1"),
        (["broker", directory_board, "down", "--for", "0"], 2, "0"),
        (["broker", directory_board, "down", "--for", "nan"], 2, "nan is not a number of seconds"),
        (["power-cut", directory_board, "--off", "inf"], 2, "inf is not a number of seconds"),
        (["broker", directory_board, "up", "--for", "3"], 2, "--for applies to `broker DIR down` only"),
        (["broker", directory_board, "sideways"], 2, "sideways"),
        (["broker", directory_board, "down"], 1, "no mqtt_host and mqtt_port"),
        (["modem", directory_board, "broken"], 2, "broken"),
        (["flash", directory_board, "full"], 1, "install it with flash mode \"image\""),
        (["flash", image_board, "full", "--free-blocks", "512"], 2, "free blocks must be 0..511, got 512"),
        (["flash", image_board, "free", "--free-blocks", "3"], 2, "--free-blocks applies to `flash DIR full` only"),
        (["battery", directory_board, "3600", "--speaker-sag", "2000"], 2, "2000"),
    ]
    for args, exit_code, message in cases:
        result = _invoke(*args)
        assert result.exit_code == exit_code, (args, result.output)
        assert message in result.output, (args, result.output)


def test_run_refuses_to_switch_the_flash_mode(micropython_available, tmp_path: Path):
    board = tmp_path / "board"
    VirtualBoard(board).install()
    result = _invoke("run", board, "--flash", "image")
    assert result.exit_code == 1
    assert "keeps its flash as 'directory'" in result.output

"""The `sticker` commands: a board run by one process, controlled from another."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from simulator.cli import sticker
from simulator.vboard import REPO_ROOT, make_config

RUN_STICKER = "from simulator.cli import sticker; sticker(prog_name='sticker')"


def _state(runner: CliRunner, directory: Path) -> dict:
    result = runner.invoke(sticker, ["state", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _wait_state(runner: CliRunner, directory: Path, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        # The running process installs the board first: until then, no state.
        current = _state(runner, directory) if (directory / "hardware.json").exists() else None
        if current is not None and current["state"] == name:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"board not {name!r} within {timeout} s: {current}")
        time.sleep(0.05)


def test_run_in_one_process_controlled_from_another(tmp_path: Path, broker, device):
    device_id, key = device
    config_file = tmp_path / "sticker.json"
    settings = {"arm_delay_s": 0.5, "cry_max_s": 3, "heartbeat_s": 0}
    config_file.write_text(
        json.dumps(make_config(device_id, key.hex(), mqtt_port=broker.port, **settings))
    )
    directory = tmp_path / "board"
    runner = CliRunner()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_STICKER,
            "run",
            str(directory),
            "--config",
            str(config_file),
            "--envelope",
            "closed",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        armed = _wait_state(runner, directory, "armed", 15)
        opened = runner.invoke(sticker, ["open", str(directory)])
        crying = _wait_state(runner, directory, "crying", 5)
        closed = runner.invoke(sticker, ["close", str(directory)])
        text = runner.invoke(sticker, ["state", str(directory)])
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)

    assert armed["power"] == "on"
    assert opened.exit_code == 0
    assert opened.output == "envelope open (light level 40000)\n"
    assert crying["light"] == 40000
    assert closed.exit_code == 0
    assert text.exit_code == 0
    assert text.output.startswith("crying: light for ")
    assert process.returncode == 0
    assert f"virtual sticker running in {directory}" in output
    assert "info state previous=armed" not in output  # a wake-up starts with no state in memory
    assert "state=crying" in output
    assert _state(runner, directory)["state"] == "off"


def test_control_commands_need_an_installed_board(tmp_path: Path):
    result = CliRunner().invoke(sticker, ["open", str(tmp_path / "missing")])

    assert result.exit_code == 1
    assert f"no virtual board in {tmp_path / 'missing'}" in result.output


def test_light_command_sets_level(micropython_available, tmp_path: Path):
    from simulator.vboard import VirtualBoard

    VirtualBoard(tmp_path / "board").install()
    runner = CliRunner()

    result = runner.invoke(sticker, ["light", str(tmp_path / "board"), "1234"])
    rejected = runner.invoke(sticker, ["light", str(tmp_path / "board"), "70000"])

    assert result.exit_code == 0
    assert _state(runner, tmp_path / "board")["light"] == 1234
    assert rejected.exit_code == 2


def test_battery_and_wifi_commands_set_inputs(micropython_available, tmp_path: Path):
    from simulator.vboard import VirtualBoard

    VirtualBoard(tmp_path / "board").install()
    runner = CliRunner()

    battery = runner.invoke(sticker, ["battery", str(tmp_path / "board"), "3300"])
    wifi = runner.invoke(sticker, ["wifi", str(tmp_path / "board"), "off"])
    rejected = runner.invoke(sticker, ["battery", str(tmp_path / "board"), "9000"])

    assert battery.exit_code == 0
    assert wifi.exit_code == 0
    state = _state(runner, tmp_path / "board")
    assert state["battery_mv"] == 3300
    assert state["wifi"] is False
    assert rejected.exit_code == 2

"""`sticker` commands: run and control virtual crying-invoice stickers.

sticker run DIR --config sticker.json   # supervise a board in the foreground
sticker close DIR                       # from another shell: envelope closed (dark)
sticker open DIR                        # envelope opened (light): the sticker cries
sticker state DIR                       # firmware state and supervisor status
sticker battery DIR 3300                # battery voltage in mV, to try a low battery
sticker wifi DIR off                    # Wi-Fi access point off, to try a network outage
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import click

from simulator.upython import MicroPythonMissing
from simulator.vboard import LIGHT_CLOSED, LIGHT_OPEN, VirtualBoard, VirtualBoardError

_DIRECTORY = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


def _existing_board(directory: Path) -> VirtualBoard:
    if not (directory / "hardware.json").exists():
        raise click.ClickException(
            f"no virtual board in {directory}: start one with `sticker run {directory}`"
        )
    return VirtualBoard(directory)


@click.group()
def sticker() -> None:
    """Run and control virtual crying-invoice stickers (real firmware, simulated hardware)."""


@sticker.command("battery")
@_DIRECTORY
@click.argument("millivolts", type=click.IntRange(2500, 4500))
def battery(directory: Path, millivolts: int) -> None:
    """Set the battery voltage to MILLIVOLTS (2500 to 4500), to try a low battery."""
    _existing_board(directory).set_battery(millivolts)
    click.echo(f"battery {millivolts} mV")


@sticker.command("wifi")
@_DIRECTORY
@click.argument("switch", type=click.Choice(["on", "off"]))
def wifi(directory: Path, switch: str) -> None:
    """Switch the simulated Wi-Fi access point on or off, to try a network outage."""
    _existing_board(directory).set_wifi(switch == "on")
    click.echo(f"Wi-Fi {switch}")


@sticker.command()
@_DIRECTORY
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Device configuration (JSON, the keys of config.json) to install; "
    "without it the board keeps its installed config, or starts unprovisioned.",
)
@click.option(
    "--envelope",
    type=click.Choice(["open", "closed"]),
    help="Envelope state at power-on; default: as the board was left (open for a new board).",
)
def run(directory: Path, config_path: Path | None, envelope: str | None) -> None:
    """Install the firmware in DIRECTORY and run the board until Ctrl-C.

    Prints the firmware console as it runs.
    """
    config = None
    if config_path is not None:
        try:
            config = json.loads(config_path.read_text())
        except ValueError as error:
            raise click.ClickException(f"invalid JSON in {config_path}: {error}") from error
    board = VirtualBoard(directory, config)
    try:
        board.install()
        if envelope == "open":
            board.open_envelope()
        elif envelope == "closed":
            board.close_envelope()
        offset = board.console_size()
        board.start()
    except (VirtualBoardError, MicroPythonMissing) as error:
        raise click.ClickException(str(error)) from error

    click.echo(f"virtual sticker running in {board.directory}; Ctrl-C to stop")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while board.running:
            offset = _echo_console(board, offset)
            time.sleep(0.1)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        board.stop()
        _echo_console(board, offset)


def _interrupt(signal_number: int, frame: object) -> None:
    # SIGTERM stops the board like Ctrl-C does.
    raise KeyboardInterrupt


def _echo_console(board: VirtualBoard, offset: int) -> int:
    try:
        with board.console_path.open("rb") as stream:
            stream.seek(offset)
            data = stream.read()
    except OSError:
        return offset
    # Print whole lines only; a partial line waits for the next round.
    end = data.rfind(b"\n") + 1
    if end:
        click.echo(data[:end].decode(errors="replace"), nl=False)
    return offset + end


@sticker.command("open")
@_DIRECTORY
def open_envelope(directory: Path) -> None:
    """Open the envelope: light on the sensor."""
    _existing_board(directory).open_envelope()
    click.echo(f"envelope open (light level {LIGHT_OPEN})")


@sticker.command("close")
@_DIRECTORY
def close_envelope(directory: Path) -> None:
    """Close the envelope: darkness on the sensor."""
    _existing_board(directory).close_envelope()
    click.echo(f"envelope closed (light level {LIGHT_CLOSED})")


@sticker.command("light")
@_DIRECTORY
@click.argument("level", type=click.IntRange(0, 65535))
def light(directory: Path, level: int) -> None:
    """Set the light on the sensor to LEVEL (ADC reading, 0 dark to 65535)."""
    _existing_board(directory).set_light(level)
    click.echo(f"light level {level}")


@sticker.command()
@_DIRECTORY
@click.option("--json", "as_json", is_flag=True, help="Print the state as one JSON object.")
def state(directory: Path, as_json: bool) -> None:
    """Print the firmware state and the supervisor's status."""
    current = _existing_board(directory).state()
    if as_json:
        click.echo(json.dumps(current))
        return
    click.echo(f"{current['state']}: {current['reason'] or '-'}")
    click.echo(
        f"power {current['power']}, process {current['process']}, boots {current['boots']}, "
        f"light {current['light']}, battery {current['battery_mv']} mV, wifi {'up' if current['wifi'] else 'down'}"
    )

"""`sticker` commands: run and control virtual crying-invoice stickers.

sticker run DIR --config sticker.json   # supervise a board in the foreground
sticker close DIR                       # from another shell: envelope closed (dark)
sticker open DIR                        # envelope opened (light): the sticker cries
sticker state DIR                       # firmware state, supervisor status, faults
sticker battery DIR 3300                # battery voltage in mV, to try a low battery
sticker wifi DIR off                    # Wi-Fi access point off, to try a network outage
sticker power-cut DIR --off 2           # the interpreter is killed; on again 2 s later
sticker broker DIR down --for 300       # connections to the broker refused for 300 s
sticker modem DIR error                 # the simulated LTE-M modem replies ERROR
sticker flash DIR full                  # littlefs filled at the next boot (flash mode image)
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

import click

from simulator.faults import BROKER_MODES, MODEM_FAULTS, describe_faults
from simulator.modem import SimulatedModem
from simulator.upython import MicroPythonMissing
from simulator.vboard import (
    FLASH_MODES,
    LIGHT_CLOSED,
    LIGHT_OPEN,
    VirtualBoard,
    VirtualBoardError,
)

# Blocks left free by `flash full`: little enough that the journal soon meets
# ENOSPC, enough for littlefs to still commit a small file.
_FREE_BLOCKS = 2
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
@click.option(
    "--speaker-sag",
    "sag_mv",
    type=click.IntRange(0, 1500),
    help="How far the cell's voltage drops while the speaker plays, in mV (0 to 1500); "
    "default: as set before (0 for a new board).",
)
def battery(directory: Path, millivolts: int, sag_mv: int | None) -> None:
    """Set the battery voltage to MILLIVOLTS (2500 to 4500), to try a low battery.

    With --speaker-sag the voltage also drops under the speaker's load, so a
    cell that looks good at rest can be low while the sticker cries.
    """
    _existing_board(directory).set_battery(millivolts, speaker_sag_mv=sag_mv)
    if sag_mv:
        click.echo(f"battery {millivolts} mV, {millivolts - sag_mv} mV while the speaker plays")
    else:
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
@click.option(
    "--flash",
    type=click.Choice(FLASH_MODES),
    help="Where the board keeps its flash: a directory (flash/) or a littlefs image "
    "(flash.img) that MicroPython mounts; default: as installed (directory for a new board).",
)
@click.option(
    "--modem/--no-modem",
    default=None,
    help="Run a simulated LTE-M modem on the board's UART; default: when the config's "
    'uplink is "lte".',
)
def run(
    directory: Path,
    config_path: Path | None,
    envelope: str | None,
    flash: str | None,
    modem: bool | None,
) -> None:
    """Install the firmware in DIRECTORY and run the board until Ctrl-C.

    Prints the firmware console as it runs. Other shells control the board
    with the other `sticker` commands, faults included.
    """
    config = None
    if config_path is not None:
        try:
            config = json.loads(config_path.read_text())
        except ValueError as error:
            raise click.ClickException(f"invalid JSON in {config_path}: {error}") from error
        if not isinstance(config, dict):
            raise click.ClickException(
                f"{config_path} must hold a JSON object of config.json keys, got {type(config).__name__}"
            )
    installed = VirtualBoard(directory).flash_mode if (directory / "hardware.json").exists() else None
    if flash is not None and installed is not None and flash != installed:
        # The other flash would start empty: no config, sequence numbers from 1 again,
        # which the backend would take for events it already has.
        raise click.ClickException(
            f"the board in {directory} keeps its flash as {installed!r}; run it with "
            f"--flash {installed}, or give a new folder for a board with --flash {flash}"
        )
    board = VirtualBoard(directory, config, flash=flash)
    simulated_modem = None
    try:
        board.install()
        if modem is None:
            modem = board.firmware_settings().get("uplink") == "lte"
        if modem:
            simulated_modem = SimulatedModem().start()
            board.attach_simulated_modem(simulated_modem)
        if envelope == "open":
            board.open_envelope()
        elif envelope == "closed":
            board.close_envelope()
        offset = board.console_size()
        board.start()
    except (VirtualBoardError, MicroPythonMissing) as error:
        if simulated_modem is not None:
            simulated_modem.stop()
        raise click.ClickException(str(error)) from error

    click.echo(f"virtual sticker running in {board.directory}; Ctrl-C to stop")
    if simulated_modem is not None:
        click.echo(f"simulated LTE-M modem on 127.0.0.1:{simulated_modem.port}")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while board.running:
            offset = _echo_console(board, offset)
            time.sleep(0.1)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        board.stop()
        if simulated_modem is not None:
            simulated_modem.stop()
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
    """Print the firmware state, the supervisor's status and the faults in force."""
    current = _existing_board(directory).state()
    if as_json:
        click.echo(json.dumps(current))
        return
    click.echo(f"{current['state']}: {current['reason'] or '-'}")
    click.echo(
        f"power {current['power']}, process {current['process']}, boots {current['boots']}, "
        f"light {current['light']}, battery {current['battery_mv']} mV, wifi {'up' if current['wifi'] else 'down'}"
    )
    if current["off_until"] is not None:
        left_s = max(0.0, current["off_until"] - time.time())
        click.echo(f"power cut: on again in {left_s:.1f} s")
    click.echo(f"flash {current['flash']}, faults: {describe_faults(current['faults'])}")


# Faults

_MAX_FAULT_S = 7 * 86400


def _finite_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    # click's FloatRange lets nan through (every comparison with nan is false) and inf
    # would overflow the supervisor's clock.
    if value is not None and not (math.isfinite(value) and value <= _MAX_FAULT_S):
        raise click.BadParameter(
            f"{value} is not a number of seconds from 0 to {_MAX_FAULT_S} (7 days)"
        )
    return value



@sticker.command("power-cut")
@_DIRECTORY
@click.option(
    "--off",
    "off_s",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    callback=_finite_seconds,
    help="How long the board stays without power, in seconds.",
)
def power_cut(directory: Path, off_s: float) -> None:
    """Cut the power of the running board at once, then power it on again.

    The supervisor (`sticker run`) kills the interpreter wherever the firmware
    is: RTC memory is lost, the flash keeps what was written.
    """
    try:
        _existing_board(directory).request_power_cut(off_s)
    except VirtualBoardError as error:
        raise click.ClickException(str(error)) from error
    if off_s:
        click.echo(f"power cut: off for {off_s:g} s, then on again (RTC memory lost, flash kept)")
    else:
        click.echo("power cut: on again at once (RTC memory lost, flash kept)")


@sticker.command("broker")
@_DIRECTORY
@click.argument("switch", type=click.Choice(["down", "up"]))
@click.option(
    "--for",
    "for_s",
    type=click.FloatRange(min=0, min_open=True),
    callback=_finite_seconds,
    help="Length of the outage in seconds; without it the broker stays down until "
    "`sticker broker DIR up`.",
)
@click.option(
    "--mode",
    type=click.Choice(BROKER_MODES),
    default="refuse",
    show_default=True,
    help="refuse: connections are refused and open ones reset, as when the broker is "
    "stopped; drop: packets are lost, so connections and reads time out.",
)
def broker(directory: Path, switch: str, for_s: float | None, mode: str) -> None:
    """Make the broker unreachable from the board (down) or reachable again (up).

    The board's simulated network applies it to the mqtt_host and mqtt_port
    of its config.json; other connections pass.
    """
    board = _existing_board(directory)
    if switch == "up":
        if for_s is not None:
            raise click.UsageError("--for applies to `broker DIR down` only")
        board.set_broker_up()
        click.echo("broker reachable again")
        return
    try:
        fault = board.set_broker_down(for_s, mode)
    except VirtualBoardError as error:
        raise click.ClickException(str(error)) from error
    effect = "connections refused" if mode == "refuse" else "packets dropped"
    length = f"for {for_s:g} s" if for_s is not None else f"until `sticker broker {directory} up`"
    click.echo(f"broker {fault['host']}:{fault['port']} down {length}: {effect}")


@sticker.command("modem")
@_DIRECTORY
@click.argument("fault", type=click.Choice([*MODEM_FAULTS, "ok"]))
def modem_fault(directory: Path, fault: str) -> None:
    """Put the simulated LTE-M modem into a fault, or back to normal (ok).

    unregistered: no network registration; error: ERROR to every AT command;
    silent: no reply at all. The modem is the one `sticker run` starts for a
    config with uplink "lte" (or --modem).
    """
    board = _existing_board(directory)
    board.set_modem_fault(None if fault == "ok" else fault)
    click.echo("modem fault cleared" if fault == "ok" else f"modem fault: {fault}")
    if not board.has_modem():
        click.echo(
            f"note: no modem is wired to {directory} yet; the fault applies once "
            "`sticker run` starts one (uplink lte or --modem)"
        )


@sticker.command("flash")
@_DIRECTORY
@click.argument("switch", type=click.Choice(["full", "free"]))
@click.option(
    "--free-blocks",
    type=click.IntRange(min=0),
    help=f"With full: how many 4096-byte littlefs blocks stay free (default {_FREE_BLOCKS}).",
)
def flash_fault(directory: Path, switch: str, free_blocks: int | None) -> None:
    """Fill the board's littlefs flash (full) or give the space back (free).

    Takes effect at the next boot (wake-up, reset or power-on): before the
    firmware starts, the boot fills the file system with a filler file, or
    removes it. Needs a board run with --flash image.
    """
    if switch == "free" and free_blocks is not None:
        raise click.UsageError("--free-blocks applies to `flash DIR full` only")
    if free_blocks is None:
        free_blocks = _FREE_BLOCKS
    board = _existing_board(directory)
    try:
        board.set_flash_full(free_blocks if switch == "full" else None)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--free-blocks'") from error
    except VirtualBoardError as error:
        raise click.ClickException(str(error)) from error
    if switch == "full":
        click.echo(f"flash full from the next boot: {free_blocks} blocks stay free")
    else:
        click.echo("flash freed at the next boot: the filler file is removed")

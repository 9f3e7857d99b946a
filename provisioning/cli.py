"""`ikki station`: the factory station's commands."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from serial.tools import list_ports  # type: ignore[import-untyped]

from provisioning import messages
from provisioning.errors import StationError
from simulator.vboard import FIRMWARE_DIR


def _firmware_version(firmware_dir: Path = FIRMWARE_DIR) -> str:
    match = re.search(r'FW_VERSION\s*=\s*"([^"]+)"', (firmware_dir / "version.py").read_text())
    return match.group(1) if match else "unknown"


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        try:
            settings[name] = json.loads(value)
        except ValueError:
            settings[name] = value
    return settings


class StationContext:
    def __init__(self, lang: str | None) -> None:
        self.lang = messages.language(lang)

    def fail(self, error: StationError) -> StationError:
        error.lang = self.lang
        return error


@click.group()
@click.option("--lang", envvar="IKKI_STATION_LANG", default=None,
              help="language of the station's messages: fr, nl or en (default: IKKI_STATION_LANG, en)")
@click.pass_context
def station(ctx: click.Context, lang: str | None) -> None:
    """Factory station: flash, provision, self-test, register and label stickers."""
    ctx.obj = StationContext(lang)


def _serial_ports(extra: tuple[str, ...]) -> list[tuple[str, str]]:
    # Only USB ports: the built-in UARTs of the station PC have no board on them.
    ports = [(port.device, port.description or "") for port in sorted(list_ports.comports())
             if port.vid is not None]
    for port in extra:
        ports.append((port, "virtual board" if Path(port).name == "tty" else ""))
    return ports


@station.command("list")
@click.option("--port", "ports", multiple=True, help="also show this port (a virtual board's tty)")
@click.pass_obj
def list_boards(state: StationContext, ports: tuple[str, ...]) -> None:
    """List the serial ports with a board."""
    found = _serial_ports(ports)
    console = Console()
    if not found:
        console.print(messages.text("no_ports", state.lang))
        return
    table = Table()
    table.add_column(messages.text("col_port", state.lang))
    table.add_column(messages.text("col_description", state.lang))
    for device, description in found:
        table.add_row(device, description)
    console.print(table)


@station.command()
@click.option("--port", required=True, help="serial port of the board")
@click.pass_obj
def detect(state: StationContext, port: str) -> None:
    """Detect the board's chip with esptool."""
    from provisioning.flashing import detect_chip

    try:
        chip = detect_chip(port)
    except StationError as error:
        raise state.fail(error) from None
    click.echo(f"{port}: {chip}")


def _options(state: StationContext, **values: Any) -> Any:
    from provisioning.image import application_files, check_micropython_image
    from provisioning.station import StationOptions

    image = Path(values["image"])
    try:
        image_sha256 = check_micropython_image(image, values["sha256"])
        files = application_files(cache_dir=Path(values["output"]) / "mpy-cache")
    except StationError as error:
        raise state.fail(error) from None
    if not values["token"]:
        raise click.UsageError("give the factory token with --token or IKKI_FACTORY_TOKEN")
    batch = values["batch"] or time.strftime("batch-%Y%m%d-%H%M%S")
    return StationOptions(
        image=image, image_sha256=image_sha256, files=files, firmware_version=_firmware_version(),
        server=values["server"], token=values["token"], station=values["station"],
        operator=values["operator"], hardware_revision=values["hardware_revision"],
        mqtt_host=values["mqtt_host"], mqtt_port=values["mqtt_port"],
        factory_broker=_host_port(values["factory_broker"]), output_dir=Path(values["output"]),
        site=values["site"], batch=batch, settings=_settings(values["settings"]),
        new_identity=values.get("new_identity", False), rotate_key=values.get("rotate_key", False),
        lang=state.lang,
    )


def _provisioning_options(function):
    options = [
        click.option("--port", "ports", multiple=True,
                     help="serial port of a board; repeat for several (default: every port found)"),
        click.option("--image", required=True, type=click.Path(dir_okay=False),
                     help="MicroPython ESP32-S3 image, written at 0x0"),
        click.option("--sha256", default=None,
                     help="expected SHA-256 of the image (default: the <image>.sha256 manifest)"),
        click.option("--server", envvar="IKKI_STATION_SERVER", default="http://127.0.0.1:8000",
                     show_default=True, help="Ikki server URL (IKKI_STATION_SERVER)"),
        click.option("--token", envvar="IKKI_FACTORY_TOKEN", default="",
                     help="factory token of the server (IKKI_FACTORY_TOKEN)"),
        click.option("--station", "station_name", envvar="IKKI_STATION_NAME",
                     default=socket.gethostname(), help="name of this station (IKKI_STATION_NAME)"),
        click.option("--operator", envvar="IKKI_STATION_OPERATOR", required=True,
                     help="operator's name or badge (IKKI_STATION_OPERATOR)"),
        click.option("--hardware-revision", default="A", show_default=True,
                     help="board revision printed on the PCB"),
        click.option("--mqtt-host", required=True, help="broker the stickers use in the field"),
        click.option("--mqtt-port", default=1883, show_default=True, type=int,
                     help="port of that broker"),
        click.option("--factory-broker", required=True,
                     help="HOST:PORT of the station's MQTT broker for the self-test publish"),
        click.option("--output", default="var/station", show_default=True,
                     type=click.Path(file_okay=False), help="folder for labels and reports"),
        click.option("--site", default="https://ikki.be", show_default=True,
                     help="web address printed in the label's QR code"),
        click.option("--batch", default="", help="batch name (default: batch-<date>-<time>)"),
        click.option("--set", "settings", multiple=True,
                     help="extra config.json setting KEY=VALUE (a JSON value), e.g. arm_delay_s=30"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _run(state: StationContext, ports: tuple[str, ...], options: Any) -> None:
    from provisioning.batch import run_batch

    chosen = list(ports) or [device for device, _ in _serial_ports(())]
    if not chosen:
        raise state.fail(StationError("no_board"))
    results, _csv, html_path = run_batch(chosen, options, state.lang, Console())
    failed = [result for result in results if result.status != "passed"]
    if len(results) == 1 and failed and failed[0].error_code:
        # With one board, its own error is the last line the operator reads.
        raise state.fail(StationError(failed[0].error_code, **failed[0].error_params))
    if failed:
        raise state.fail(StationError("rejected", count=len(failed), report=str(html_path)))


@station.command()
@_provisioning_options
@click.option("--new-identity", is_flag=True,
              help="give the board a new device id, key and claim code even if it has one")
@click.pass_obj
def provision(state: StationContext, ports: tuple[str, ...], station_name: str, **values: Any) -> None:
    """Flash, provision, self-test, register and label boards, one process per board."""
    options = _options(state, station=station_name, **values)
    _run(state, ports, options)


@station.command("rotate-key")
@_provisioning_options
@click.pass_obj
def rotate_key(state: StationContext, ports: tuple[str, ...], station_name: str, **values: Any) -> None:
    """Give provisioned boards a new key (same device id and claim code) and register it."""
    options = _options(state, station=station_name, rotate_key=True, **values)
    _run(state, ports, options)


@station.command()
@click.option("--port", required=True, help="serial port of a development board")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="config.json to copy too")
@click.pass_obj
def copy(state: StationContext, port: str, config_path: str | None) -> None:
    """Copy the compiled firmware to a development board with mpremote (no esptool, no registration)."""
    from provisioning.image import application_files

    try:
        files = application_files()
    except StationError as error:
        raise state.fail(error) from None
    with tempfile.TemporaryDirectory(prefix="ikki-copy-") as temporary:
        root = Path(temporary)
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        if config_path:
            (root / "config.json").write_bytes(Path(config_path).read_bytes())
        folders = sorted({str(Path(name).parent) for name in files if "/" in name})
        make_folders = (f"import os\nfor _name in {folders!r}:\n    try:\n        os.mkdir(_name)\n"
                        "    except OSError:\n        pass\n")
        command = [sys.executable, "-m", "mpremote", "connect", port, "exec", make_folders]
        for name in sorted(path.relative_to(root).as_posix() for path in root.rglob("*")
                           if path.is_file()):
            command += ["+", "fs", "cp", name, f":{name}"]
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120,
                                check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise state.fail(StationError("copy_failed", port=port,
                                          detail=detail[-1] if detail else result.returncode))
        count = len(files) + (1 if config_path else 0)
    click.echo(messages.text("copied", state.lang, count=count, port=port))


@station.command("make-test-image")
@click.argument("path", type=click.Path(dir_okay=False))
def make_test_image(path: str) -> None:
    """Write a stand-in MicroPython image (a test file, not MicroPython) and its .sha256 manifest."""
    from provisioning.image import write_test_micropython_image

    written = write_test_micropython_image(Path(path))
    click.echo(f"{written}\n{written}.sha256")


@station.command()
@click.option("--device-id", required=True)
@click.option("--claim-code", required=True)
@click.option("--output", default="var/station/labels", show_default=True,
              type=click.Path(file_okay=False))
@click.option("--site", default="https://ikki.be", show_default=True)
@click.pass_obj
def label(state: StationContext, device_id: str, claim_code: str, output: str, site: str) -> None:
    """Print a device's label again (PDF and PNG)."""
    from provisioning.label import write_label

    png, pdf = write_label(Path(output), device_id, claim_code, site)
    click.echo(messages.text("label_written", state.lang, pdf=pdf, png=png))

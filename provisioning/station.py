"""One board through the station: identity, one esptool write, self-test, record, label.

The order keeps the server clean: the board is registered only after esptool
verified the flash and every self-test check passed, in the same request that
stores the factory record. A board that fails any step leaves no device row.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import serial  # type: ignore[import-untyped]

from backend.devices.protocol import KEY_BYTES
from backend.devices.service import generate_claim_code
from provisioning import flashing, messages
from provisioning.backend_client import FactoryApi
from provisioning.errors import StationError
from provisioning.image import build_vfs_image
from provisioning.jig import jig_for, virtual_board_directory
from provisioning.label import write_label
from provisioning.repl import BoardRepl
from provisioning.selftest import as_dicts, run_self_test

IDENTITY_KEYS = ("device_id", "key", "claim_code")
# How long a board with firmware gets to show its REPL before the identity read gives up, in seconds.
IDENTITY_TIMEOUT_S = 5.0
_BLANK_PROBE_S = 0.3

Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class StationOptions:
    image: Path
    image_sha256: str
    files: dict[str, bytes]
    firmware_version: str
    server: str
    token: str
    station: str
    operator: str
    hardware_revision: str
    mqtt_host: str
    mqtt_port: int
    factory_broker: tuple[str, int]
    output_dir: Path
    site: str
    batch: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    new_identity: bool = False
    rotate_key: bool = False
    lang: str | None = None


@dataclass
class BoardResult:
    port: str
    status: str = "error"  # passed, rejected, error
    device_id: str = ""
    claim_code: str = ""
    identity: str = ""  # new, kept, rotated
    reason: str = ""
    error_code: str = ""
    error_params: dict[str, Any] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    label_png: str = ""
    label_pdf: str = ""
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)
    registered: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_identity() -> dict[str, str]:
    return {
        "device_id": f"stk-{secrets.token_hex(6)}",
        "key": secrets.token_bytes(KEY_BYTES).hex(),
        "claim_code": generate_claim_code(),
    }


def board_is_blank(port: str) -> bool:
    """Return True when the board's ROM finds no firmware (it prints "invalid header" in a loop)."""
    seen = b""
    with serial.Serial(port, 115200, timeout=0.02) as line:
        line.reset_input_buffer()
        line.write(b"\r\x03")
        deadline = time.monotonic() + _BLANK_PROBE_S
        # A board with firmware answers Ctrl-C with its prompt; stop reading at either answer.
        while time.monotonic() < deadline and not any(
            mark in seen for mark in (b"invalid header", b">>> ", b"raw REPL")
        ):
            seen += line.read(256)
    return b"invalid header" in seen


def read_identity(port: str) -> tuple[dict[str, Any] | None, dict[str, bytes]]:
    """Return the board's config.json (None for a board without firmware or identity) and its
    sequence-number and journal files, which a re-flash keeps so sequence numbers never repeat."""
    if board_is_blank(port):
        return None, {}
    with BoardRepl(port, IDENTITY_TIMEOUT_S) as repl:
        config = repl.read_config()
        kept = repl.read_state_files() if config else {}
    return config, kept


def device_config(identity: dict[str, str], options: StationOptions) -> dict[str, Any]:
    config: dict[str, Any] = dict(options.settings)
    config.update({
        "device_id": identity["device_id"],
        "key": identity["key"],
        # Not read by the firmware; kept on the board so a re-run can print the same label.
        "claim_code": identity["claim_code"],
        "hardware_revision": options.hardware_revision,
        "mqtt_host": options.mqtt_host,
        "mqtt_port": options.mqtt_port,
    })
    return config


def provision_board(port: str, options: StationOptions, progress: Progress | None = None
                    ) -> BoardResult:
    """Provision one board and return what happened; StationError is caught into the result."""
    result = BoardResult(port=port)
    started = time.monotonic()
    step_started = started

    def step(name: str) -> None:
        nonlocal step_started
        now = time.monotonic()
        if result.step_seconds or name != "identity":
            previous = list(result.step_seconds)[-1] if result.step_seconds else "identity"
            result.step_seconds[previous] = round(now - step_started, 3)
        result.step_seconds.setdefault(name, 0.0)
        step_started = now
        if progress is not None:
            progress(name, {"device_id": result.device_id, "identity": result.identity})

    try:
        _provision(port, options, result, step)
    except StationError as error:
        error.lang = options.lang
        result.status = "error"
        result.error_code = error.code
        result.error_params = {name: str(value) for name, value in error.params.items()}
        result.reason = str(error)
    step("done")
    result.step_seconds.pop("done", None)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _provision(port: str, options: StationOptions, result: BoardResult,
               step: Callable[[str], None]) -> None:
    step("identity")
    if not Path(port).exists():
        raise StationError("port_missing", port=port)
    stored, state_files = read_identity(port)
    old_key = None
    if stored and all(isinstance(stored.get(name), str) for name in IDENTITY_KEYS) \
            and not options.new_identity:
        identity = {name: stored[name] for name in IDENTITY_KEYS}
        result.identity = "kept"
        if options.rotate_key:
            old_key = identity["key"]
            identity["key"] = secrets.token_bytes(KEY_BYTES).hex()
            result.identity = "rotated"
    else:
        identity = new_identity()
        result.identity = "new"
        state_files = {}
    result.device_id = identity["device_id"]
    result.claim_code = identity["claim_code"]
    config = device_config(identity, options)

    step("flash")
    with tempfile.TemporaryDirectory(prefix="ikki-station-") as temporary:
        vfs = Path(temporary) / "vfs.bin"
        vfs.write_bytes(build_vfs_image({**options.files, **state_files}, config))
        flashing.write_flash(port, options.image, vfs)

    step("self_test")
    jig = jig_for(port, None)
    with BoardRepl(port) as repl:
        checks = run_self_test(repl, jig, config, options.factory_broker)
    result.tests = as_dicts(checks)
    failed = [check.name for check in checks if not check.passed]

    step("register")
    api = FactoryApi(options.server, options.token)
    if old_key is not None and not failed:
        try:
            api.rotate_key(identity["device_id"], old_key, identity["key"])
        except StationError:
            # The server keeps the old key: put it back on the board.
            config["key"] = old_key
            _restore_config(port, config)
            raise
    record = {
        **{name: identity[name] for name in IDENTITY_KEYS},
        "status": "rejected" if failed else "passed",
        "reason": ("failed: " + ", ".join(failed)) if failed else "",
        "identity": result.identity,
        "station": options.station,
        "operator": options.operator,
        "hardware_revision": options.hardware_revision,
        "firmware_version": options.firmware_version,
        "image_sha256": options.image_sha256,
        "batch": options.batch,
        "is_virtual": virtual_board_directory(port) is not None,
        "tests": result.tests,
    }
    answer = api.record(record)
    result.registered = bool(answer.get("registered"))
    if failed:
        result.status = "rejected"
        result.reason = messages.text("failed_checks", options.lang, checks=", ".join(failed))
        return

    step("label")
    png, pdf = write_label(options.output_dir / "labels", identity["device_id"],
                           identity["claim_code"], options.site)
    result.label_png, result.label_pdf = str(png), str(pdf)
    result.status = "passed"


def _restore_config(port: str, config: dict[str, Any]) -> None:
    import json

    with BoardRepl(port) as repl:
        repl.write_file("config.json", json.dumps(config, indent=1, sort_keys=True).encode())

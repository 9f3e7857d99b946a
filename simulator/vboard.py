"""Virtual sticker board: the real firmware on the MicroPython unix port.

A board lives in one directory:

    flash/          the device's file system: firmware files, config.json and
                    what the firmware stores (journal.d/, seq.a, seq.b, armed,
                    finished); the default flash mode, "directory"
    flash.img       the same file system as a littlefs v2 image, in flash mode
                    "image": MicroPython mounts it itself at every boot
                    (simulator/hardware/boot_image.py, simulator/flash.py)
    hardware.json   wiring, from the board's pin map, and the flash mode
    inputs.json     the controls: light level, battery voltage, Wi-Fi, and
                    the faults of simulator/faults.py
    power_cut.json  a power cut asked for by another process, until the
                    supervisor makes it
    boot.json       reset cause and wake reason of the current boot
    sleep.json      wake sources of the last deep sleep
    rtc_memory.bin  RTC user memory; the firmware keeps its state there
    supervisor.json what the supervisor is doing (process, boots, power)
    console.log     the firmware's console output
    hardware.log    simulated hardware events, one JSON object a line
    audio.wav       everything the speaker played

The supervisor runs the interpreter with the simulated machine, network and
esp32 modules (simulator/hardware/) on its path. machine.deepsleep() ends
the process with EXIT_DEEPSLEEP; the supervisor then waits for the wake
source (the light pin level or the timer) and starts the firmware again with
reset cause DEEPSLEEP_RESET and the matching wake reason, as the ESP32 does.

Controls and state are files, so one process can supervise the board (in a
background thread, as the web app does) while others open or close the
envelope and read the state.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Self

import structlog

from provisioning.layout import VFS_SIZE
from simulator.faults import BROKER_MODES, MODEM_FAULTS, active_faults
from simulator.flash import FlashImage, FlashImageError
from simulator.upython import micropython_command, micropython_env

log = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
HARDWARE_MODULES_DIR = Path(__file__).resolve().parent / "hardware"
DEFAULT_PINMAP = "esp32s3_ref"
# Flash modes: a host directory, or a littlefs image that MicroPython mounts.
FLASH_DIRECTORY = "directory"
FLASH_IMAGE = "image"
FLASH_MODES = (FLASH_DIRECTORY, FLASH_IMAGE)
BOOT_IMAGE_SCRIPT = HARDWARE_MODULES_DIR / "boot_image.py"

# Exit statuses of the simulated machine module; simulator/hardware/_vboard.py
# has the same values.
EXIT_DEEPSLEEP = 86
EXIT_RESET = 87
EXIT_POWER_LOST = 88
# Not an exit of the firmware: the supervisor killed it for its watchdog.
EXIT_WATCHDOG = -1000

# machine.reset_cause() and machine.wake_reason() values of the ESP32 port.
PWRON_RESET = 1
WDT_RESET = 3
SOFT_RESET = 5
DEEPSLEEP_RESET = 4
NO_WAKE = 0
PIN_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
RESET_CAUSE_NAMES = {
    PWRON_RESET: "power_on",
    WDT_RESET: "watchdog",
    SOFT_RESET: "soft",
    DEEPSLEEP_RESET: "deepsleep",
}
WAKE_REASON_NAMES = {NO_WAKE: "none", PIN_WAKE: "pin", EXT1_WAKE: "ext1", TIMER_WAKE: "timer"}

# Light levels (ADC read_u16) of the two envelope states.
LIGHT_OPEN = 40000
LIGHT_CLOSED = 150
DEFAULT_BATTERY_MV = 3900
# MicroPython heap of the interpreter. On the x86-64 unix port, with its
# modules compiled from source, the firmware ran a boot and cry cycle in 160K
# but not in 128K. 256K leaves room for the simulated hardware, which shares
# the heap.
DEFAULT_HEAP_SIZE = "256K"

_POLL_S = 0.005
_STOP_TIMEOUT_S = 10.0
# How often the supervisor looks for power cuts that other processes ask for.
_CONTROL_POLL_S = 0.02
# An older request is left over from a supervisor that ended: it is dropped.
_POWER_CUT_REQUEST_MAX_AGE_S = 5.0
_LOG_LINE = re.compile(r"^\s*(\d+) (info|warn|error) (\S+)(.*)$")
_LOG_FIELD = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")

_running_lock = threading.Lock()
_running: dict[Path, VirtualBoard] = {}


class VirtualBoardError(RuntimeError):
    pass


def firmware_files(firmware_dir: Path = FIRMWARE_DIR) -> list[Path]:
    """Return the files that go on the device's flash, relative to firmware_dir.

    That is every .py module and the .pcm sound, except the CPython tools.
    """
    files = []
    for path in sorted(firmware_dir.rglob("*")):
        relative = path.relative_to(firmware_dir)
        if not path.is_file() or relative.parts[0] == "tools" or "__pycache__" in relative.parts:
            continue
        if path.suffix in (".py", ".pcm"):
            files.append(relative)
    return files


def read_pinmap(path: Path) -> dict[str, int]:
    """Read the integer constants of a pin map module without importing it."""
    values: dict[str, int] = {}
    for node in ast.parse(path.read_text()).body:
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            continue
        value = node.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "const"
        ):
            value = value.args[0]
        if isinstance(value, ast.Constant) and isinstance(value.value, int):
            values[node.targets[0].id] = value.value
    return values


def firmware_defaults(firmware_dir: Path = FIRMWARE_DIR) -> dict[str, Any]:
    """Return the DEFAULTS literal of firmware/config.py (optional keys of config.json)."""
    for node in ast.parse((firmware_dir / "config.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "DEFAULTS" for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise VirtualBoardError(f"no DEFAULTS in {firmware_dir / 'config.py'}")


def make_config(
    device_id: str,
    key_hex: str,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    **settings: Any,
) -> dict[str, Any]:
    """Return a config.json object for a virtual sticker; settings override the firmware defaults."""
    config: dict[str, Any] = {
        "device_id": device_id,
        "key": key_hex,
        "mqtt_host": mqtt_host,
        "mqtt_port": mqtt_port,
    }
    config.update(settings)
    return config


def parse_console_line(line: str) -> dict[str, Any] | None:
    """Parse one firmware log line ("<uptime ms> <level> <event> key=value ...")."""
    match = _LOG_LINE.match(line)
    if match is None:
        return None
    entry: dict[str, Any] = {
        "up": int(match.group(1)),
        "level": match.group(2),
        "event": match.group(3),
    }
    for name, raw in _LOG_FIELD.findall(match.group(4)):
        if raw[:1] in ("'", '"'):
            try:
                entry[name] = ast.literal_eval(raw)
                continue
            except (ValueError, SyntaxError):
                pass
        entry[name] = raw
    return entry


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VirtualBoard:
    """One virtual sticker, kept in `directory`.

    The supervising instance calls install() and start(). Any instance on the
    same directory, in any process, can use the controls (open_envelope(),
    set_light(), ...) and read state().
    """

    def __init__(
        self,
        directory: Path | str,
        config: dict[str, Any] | None = None,
        *,
        firmware_dir: Path = FIRMWARE_DIR,
        pinmap: str | None = None,
        heap_size: str = DEFAULT_HEAP_SIZE,
        wake_poll_s: float = _POLL_S,
        run_poll_s: float = 0.02,
        flash: str | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.config = config
        if flash is not None and flash not in FLASH_MODES:
            raise ValueError(f"flash mode must be one of {', '.join(FLASH_MODES)}, got {flash!r}")
        # None: the mode the board was installed with, else "directory".
        self._flash_mode = flash
        self.firmware_dir = firmware_dir
        self.pinmap = pinmap or (config or {}).get("board") or DEFAULT_PINMAP
        self.heap_size = heap_size
        # While the chip sleeps, the supervisor looks at the wake pin this
        # often; controls from this process wake it at once. Controls from
        # other processes (the CLI) are seen only by this polling.
        self.wake_poll_s = wake_poll_s
        # While the firmware runs, the supervisor checks its exit and watchdog this often.
        self.run_poll_s = run_poll_s
        self._inputs_changed = threading.Event()
        # Wake sources of the current deep sleep, and whether the wake pin was
        # seen at its level since: the ESP32 latches a short pulse on the pin.
        self._sleeping: dict[str, Any] | None = None
        self._pin_latched = False
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._interrupt = threading.Event()
        self._request: str | None = None
        self._request_done = threading.Event()
        self._power_off_s = 0.0
        self._boots = 0
        self._inputs_cache: tuple[int, dict[str, Any]] | None = None
        self._hardware_cache: tuple[int, dict[str, Any]] | None = None
        self._controls_thread: threading.Thread | None = None
        self._modem: Any = None  # a simulator.modem.SimulatedModem driven by the modem fault

    # Files

    def _file(self, name: str) -> Path:
        return self.directory / name

    @property
    def flash_dir(self) -> Path:
        return self._file("flash")

    @property
    def flash_mode(self) -> str:
        """The flash mode: "directory" (flash/) or "image" (a littlefs image)."""
        if self._flash_mode is not None:
            return self._flash_mode
        flash = self._read_json("hardware.json", {}).get("flash") or {}
        return flash.get("mode", FLASH_DIRECTORY)

    @property
    def flash_image(self) -> FlashImage | None:
        """The littlefs image of an image-mode board, None for a flash directory."""
        if self.flash_mode != FLASH_IMAGE:
            return None
        flash = self._read_json("hardware.json", {}).get("flash") or {}
        return FlashImage(
            self._file(flash.get("image", "flash.img")),
            offset=flash.get("offset", 0),
            size=flash.get("size", VFS_SIZE),
        )

    @property
    def console_path(self) -> Path:
        return self._file("console.log")

    @property
    def hardware_log_path(self) -> Path:
        return self._file("hardware.log")

    @property
    def wav_path(self) -> Path:
        """The WAV file of everything the speaker played (8 kHz 16-bit mono for the cry)."""
        return self._file("audio.wav")

    def _read_json(self, name: str, default: Any = None) -> Any:
        try:
            return json.loads(self._file(name).read_text())
        except (OSError, ValueError):
            return default

    def _write_json(self, name: str, data: Any) -> None:
        target = self._file(name)
        temporary = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(target)

    # Installation

    def install(self) -> None:
        """Copy the firmware to the flash (directory or littlefs image) and wire the hardware.

        Data already on flash (journal, sequence numbers) is kept; config.json
        is written when the board has a config. An image is created when
        missing, with the factory's packing function.
        """
        pinmap_path = self.firmware_dir / "boards" / f"{self.pinmap}.py"
        if not pinmap_path.exists():
            raise VirtualBoardError(f"unknown board {self.pinmap!r}: {pinmap_path} does not exist")
        mode = self.flash_mode
        settings = dict(firmware_defaults(self.firmware_dir))
        config = None
        if self.config is not None:
            config = dict(self.config)
            config.setdefault("board", self.pinmap)
            settings.update(config)
        if mode == FLASH_IMAGE:
            self._install_image(config)
        else:
            self._install_directory(config)

        pins = read_pinmap(pinmap_path)
        self._write_json(
            "hardware.json",
            {
                "flash": {"mode": FLASH_DIRECTORY}
                if mode == FLASH_DIRECTORY
                else {"mode": FLASH_IMAGE, "image": "flash.img", "offset": 0, "size": VFS_SIZE},
                "pinmap": self.pinmap,
                "pins": {
                    "light_adc": pins["LIGHT_ADC_PIN"],
                    "light_wake": pins["LIGHT_WAKE_PIN"],
                    "battery_adc": pins["BATTERY_ADC_PIN"],
                    "amp_enable": pins["AMP_ENABLE_PIN"],
                    "i2s_sck": pins["I2S_SCK_PIN"],
                    "i2s_ws": pins["I2S_WS_PIN"],
                    "i2s_sd": pins["I2S_SD_PIN"],
                },
                "battery_divider": pins["BATTERY_DIVIDER"],
                # The factory trims the comparator to the firmware's ADC threshold.
                "comparator_threshold": settings["light_threshold"],
            },
        )
        if not self._file("inputs.json").exists():
            self._write_json(
                "inputs.json", {"light": LIGHT_OPEN, "battery_mv": DEFAULT_BATTERY_MV, "wifi": True}
            )

    def _install_directory(self, config: dict[str, Any] | None) -> None:
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        for relative in firmware_files(self.firmware_dir):
            target = self.flash_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.firmware_dir / relative, target)
        if config is not None:
            (self.flash_dir / "config.json").write_text(json.dumps(config, indent=2))

    def _install_image(self, config: dict[str, Any] | None) -> None:
        # The firmware process keeps the image open: replacing it under a
        # running board would lose what the firmware writes.
        supervisor = self._live_supervisor_pid()
        if supervisor is not None:
            raise VirtualBoardError(
                f"virtual board {self.directory} is running in process {supervisor}: "
                "stop it before installing"
            )
        image = FlashImage(self._file("flash.img"))
        files = {
            str(relative): (self.firmware_dir / relative).read_bytes()
            for relative in firmware_files(self.firmware_dir)
        }
        if not image.exists():
            image.create(files, config)
            return
        if config is not None:
            # The factory's config.json format (provisioning.image.build_vfs_image).
            files["config.json"] = json.dumps(config, indent=1, sort_keys=True).encode()
        try:
            image.update(files)
        except FlashImageError as error:
            raise VirtualBoardError(f"{error}: delete {image.path} to start from a new image") from error

    def _live_supervisor_pid(self) -> int | None:
        # The process that supervises this board now, if any.
        status = self._read_json("supervisor.json", {})
        pid = status.get("pid")
        if status.get("power") == "on" and pid and _pid_alive(pid):
            return pid
        return None

    # Flash files (both flash modes)

    def read_flash_file(self, name: str) -> bytes:
        """Return a file of the board's flash, by its path on flash ("journal.d/...").

        Raises FileNotFoundError when the flash has no such file.
        """
        image = self.flash_image
        if image is None:
            return (self.flash_dir / name).read_bytes()
        try:
            return image.read(name)
        except FlashImageError as error:
            raise VirtualBoardError(str(error)) from error

    def flash_files(self) -> list[str]:
        """Return the paths of every file on the board's flash, sorted."""
        image = self.flash_image
        if image is None:
            if not self.flash_dir.exists():
                return []
            return sorted(
                str(path.relative_to(self.flash_dir))
                for path in self.flash_dir.rglob("*")
                if path.is_file()
            )
        try:
            return image.files()
        except FlashImageError as error:
            raise VirtualBoardError(str(error)) from error

    def write_flash_file(self, name: str, data: bytes) -> None:
        """Write a file to the board's flash; an image only while the board is not running."""
        image = self.flash_image
        if image is None:
            target = self.flash_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return
        supervisor = self._live_supervisor_pid()
        if supervisor is not None:
            raise VirtualBoardError(
                f"virtual board {self.directory} is running in process {supervisor}: "
                "stop it before writing to its flash image"
            )
        image.update({name: data})

    def flash_usage(self) -> dict[str, int] | None:
        """Return the used and total littlefs blocks of an image, None for a flash directory."""
        image = self.flash_image
        if image is None:
            return None
        try:
            used = image.used_blocks()
        except FlashImageError as error:
            raise VirtualBoardError(str(error)) from error
        return {"used_blocks": used, "block_count": image.block_count}

    # Controls (any process)

    def _update_inputs(self, **changes: Any) -> None:
        if not self.directory.exists():
            raise VirtualBoardError(f"no virtual board in {self.directory}: install it first")
        inputs = self._read_json("inputs.json", {})
        inputs.update(changes)
        self._write_json("inputs.json", inputs)
        with _running_lock:
            supervisor = _running.get(self.directory)
        if supervisor is not None:
            supervisor._inputs_written()

    def set_light(self, level: int) -> None:
        """Set the light on the sensor as an ADC level, 0 (dark) to 65535."""
        if not 0 <= level <= 65535:
            raise ValueError(f"light level must be 0..65535, got {level}")
        self._update_inputs(light=level)

    def open_envelope(self) -> None:
        self.set_light(LIGHT_OPEN)

    def close_envelope(self) -> None:
        self.set_light(LIGHT_CLOSED)

    def set_battery(self, millivolts: int, speaker_sag_mv: int | None = None) -> None:
        """Set the cell voltage, and optionally how far it drops while the amplifier is on."""
        changes: dict[str, int] = {"battery_mv": millivolts}
        if speaker_sag_mv is not None:
            changes["speaker_sag_mv"] = speaker_sag_mv
        self._update_inputs(**changes)

    def attach_modem(self, port: int) -> None:
        """Wire the UART to the simulated LTE-M modem listening on 127.0.0.1:port (simulator.modem)."""
        hardware = self._read_json("hardware.json")
        if hardware is None:
            raise VirtualBoardError(f"no virtual board in {self.directory}: install it first")
        hardware["modem_port"] = port
        self._write_json("hardware.json", hardware)

    def set_wifi(self, available: bool) -> None:
        """Switch the simulated Wi-Fi access point on or off."""
        self._update_inputs(wifi=available)

    def set_broker_down(
        self,
        for_s: float | None = None,
        mode: str = "refuse",
        host: str | None = None,
        port: int | None = None,
    ) -> dict[str, Any]:
        """Make the broker unreachable from the board for for_s seconds (None: until set_broker_up()).

        Mode "refuse" refuses connections and resets open ones; "drop" loses
        their packets (see simulator/hardware/socket.py). host and port
        default to mqtt_host and mqtt_port of the config.json on flash.
        Return the fault as stored in inputs.json.
        """
        if mode not in BROKER_MODES:
            raise ValueError(f"broker fault mode must be one of {', '.join(BROKER_MODES)}, got {mode!r}")
        if for_s is not None and for_s <= 0:
            raise ValueError(f"broker outage duration must be above 0 s, got {for_s}")
        if host is None or port is None:
            settings = self.firmware_settings()
            host = host or settings.get("mqtt_host")
            port = port or settings.get("mqtt_port")
        if not host or not port:
            raise VirtualBoardError(
                f"no mqtt_host and mqtt_port in the config.json on the flash of {self.directory}: "
                "name the broker's host and port"
            )
        fault = {
            "host": host,
            "port": int(port),
            "mode": mode,
            "until": None if for_s is None else time.time() + for_s,
        }
        self._update_inputs(broker_down=fault)
        return fault

    def set_broker_up(self) -> None:
        """End a broker outage started with set_broker_down()."""
        self._update_inputs(broker_down=None)

    def set_modem_fault(self, fault: str | None) -> None:
        """Set the simulated LTE-M modem's fault ("unregistered", "error", "silent"), None to clear it.

        The supervisor applies it to the modem given to attach_simulated_modem().
        """
        if fault is not None and fault not in MODEM_FAULTS:
            raise ValueError(f"modem fault must be one of {', '.join(MODEM_FAULTS)}, got {fault!r}")
        self._update_inputs(modem_fault=fault)

    def set_flash_full(self, free_blocks: int | None) -> None:
        """Fill the littlefs image at each boot until free_blocks blocks stay free; None frees it.

        Takes effect at the next boot (wake-up, reset or power-on), before the
        firmware starts. Only a board with flash mode "image" has a file
        system to fill.
        """
        image = self.flash_image
        if image is None:
            raise VirtualBoardError(
                f"virtual board {self.directory} keeps its flash in a directory, which cannot be "
                "filled: install it with flash mode \"image\""
            )
        if free_blocks is not None and not 0 <= free_blocks < image.block_count:
            raise ValueError(
                f"free blocks must be 0..{image.block_count - 1}, got {free_blocks}"
            )
        self._update_inputs(flash_full=None if free_blocks is None else {"free_blocks": free_blocks})

    def request_power_cut(self, off_s: float = 0.0, timeout: float = 5.0) -> None:
        """Cut the power of this board, supervised by this process or another (see power_cut()).

        Another process's supervisor takes the request from power_cut.json;
        this returns once it has cut the power.
        """
        if off_s < 0:
            raise ValueError(f"off time must be 0 s or more, got {off_s}")
        with _running_lock:
            supervisor = _running.get(self.directory)
        if supervisor is not None:
            supervisor.power_cut(off_s)
            return
        status = self._read_json("supervisor.json", {})
        pid = status.get("pid")
        # Off with an "off_until": in the off time of a power cut.
        supervised = status.get("power") == "on" or status.get("off_until") is not None
        if not (supervised and pid and _pid_alive(pid)):
            raise VirtualBoardError(
                f"virtual board {self.directory} is not running: start it with "
                f"`sticker run {self.directory}`"
            )
        if status.get("power") == "off":
            left_s = max(0.0, status["off_until"] - time.time())
            raise VirtualBoardError(
                f"virtual board {self.directory} is off after a power cut; it powers on again "
                f"in {left_s:.1f} s"
            )
        request_path = self._file("power_cut.json")
        self._write_json("power_cut.json", {"off_s": off_s, "requested": time.time()})
        deadline = time.monotonic() + timeout
        while request_path.exists():
            if time.monotonic() > deadline:
                request_path.unlink(missing_ok=True)
                raise VirtualBoardError(
                    f"the supervisor of virtual board {self.directory} (process {pid}) did not cut "
                    f"the power within {timeout} s"
                )
            time.sleep(0.01)

    def attach_simulated_modem(self, modem: Any) -> None:
        """Wire this simulator.modem.SimulatedModem to the board and apply set_modem_fault() to it.

        Call it after install(), which rewrites the wiring.
        """
        modem.attach(self)
        self._modem = modem
        self._apply_modem_fault()

    def has_modem(self) -> bool:
        """Return whether the UART is wired to a simulated modem (attach_modem())."""
        return bool(self._read_json("hardware.json", {}).get("modem_port"))

    def firmware_settings(self) -> dict[str, Any]:
        """Return the firmware's settings: its defaults, updated by the config.json on flash."""
        settings = dict(firmware_defaults(self.firmware_dir))
        try:
            settings.update(json.loads(self.read_flash_file("config.json")))
        except (FileNotFoundError, ValueError, VirtualBoardError):
            pass
        return settings

    def inputs(self) -> dict[str, Any]:
        path = self._file("inputs.json")
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return {}
        if self._inputs_cache is None or self._inputs_cache[0] != stamp:
            self._inputs_cache = (stamp, self._read_json("inputs.json", {}))
        return self._inputs_cache[1]

    def _hardware(self) -> dict[str, Any]:
        path = self._file("hardware.json")
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return {}
        if self._hardware_cache is None or self._hardware_cache[0] != stamp:
            self._hardware_cache = (stamp, self._read_json("hardware.json", {}))
        return self._hardware_cache[1]

    def _inputs_written(self) -> None:
        # Called by controls in this process, right after inputs.json changed.
        sleep = self._sleeping
        ext0 = sleep.get("ext0") if sleep else None
        if ext0 and self.pin_level(ext0["pin"]) == ext0["level"]:
            self._pin_latched = True
        self._inputs_changed.set()

    def pin_level(self, gpio: int) -> int:
        """Return the level of an input pin while the chip sleeps (0 when unconnected)."""
        hardware = self._hardware()
        if hardware.get("pins", {}).get("light_wake") == gpio:
            return (
                1 if int(self.inputs().get("light", 0)) >= hardware["comparator_threshold"] else 0
            )
        return 0

    # State (any process)

    def state(self) -> dict[str, Any]:
        """Return the firmware state (from RTC memory) and the supervisor's status."""
        status = self._read_json("supervisor.json", {})
        powered = bool(
            status.get("power") == "on" and status.get("pid") and _pid_alive(status["pid"])
        )
        try:
            retained = json.loads(self._file("rtc_memory.bin").read_bytes() or b"{}")
        except (OSError, ValueError):
            retained = {}
        if not isinstance(retained, dict):
            retained = {}
        inputs = self._read_json("inputs.json", {})
        if powered:
            firmware_state = retained.get("st") or "booting"
        else:
            firmware_state = "off"
        return {
            "state": firmware_state,
            "reason": retained.get("why") if powered else None,
            "power": "on" if powered else "off",
            "process": status.get("process", "off") if powered else "off",
            "boots": status.get("boots", 0),
            "exit_status": status.get("exit_status"),
            "sleep": status.get("sleep") if powered else None,
            "light": inputs.get("light"),
            "battery_mv": inputs.get("battery_mv"),
            "wifi": inputs.get("wifi", True),
            "flash": self.flash_mode,
            # The end of a power cut's off time, while the supervisor waits for it.
            "off_until": status.get("off_until")
            if not powered and status.get("pid") and _pid_alive(status["pid"])
            else None,
            "faults": active_faults(inputs),
        }

    def wait_for_state(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the firmware state is `name`; return the state() seen then."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.state()
            if current["state"] == name:
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"virtual board {self.directory} not {name!r} after {timeout} s: {current}"
                )
            time.sleep(0.02)

    def console_size(self) -> int:
        try:
            return self.console_path.stat().st_size
        except OSError:
            return 0

    def console_events(self, since: int = 0) -> list[dict[str, Any]]:
        """Parse the firmware's log lines written after byte offset `since` of console.log."""
        try:
            with self.console_path.open("rb") as stream:
                stream.seek(since)
                text = stream.read().decode(errors="replace")
        except OSError:
            return []
        events = []
        for line in text.splitlines():
            entry = parse_console_line(line)
            if entry is not None:
                events.append(entry)
        return events

    def transitions(self, since: int = 0) -> list[dict[str, Any]]:
        """Return the state changes logged after byte offset `since` of console.log."""
        return [entry for entry in self.console_events(since) if entry["event"] == "state"]

    def wait_for_transition(
        self, name: str, timeout: float = 10.0, since: int = 0
    ) -> dict[str, Any]:
        """Wait until the console shows a change to state `name` after offset `since`."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.transitions(since):
                if entry.get("state") == name:
                    return entry
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"virtual board {self.directory} did not enter {name!r} within {timeout} s: {self.state()}"
                )
            time.sleep(0.02)

    def hardware_events(self) -> list[dict[str, Any]]:
        try:
            lines = self.hardware_log_path.read_text().splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def clear_audio(self) -> None:
        """Delete the captured audio (do it while the speaker is silent)."""
        self.wav_path.unlink(missing_ok=True)

    # Supervision (the supervising instance only)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Power the board on and supervise it from a background thread."""
        if self.running:
            raise VirtualBoardError(f"virtual board {self.directory} is already running")
        image = self.flash_image
        if image is None and not (self.flash_dir / "main.py").exists():
            raise VirtualBoardError(f"no firmware in {self.flash_dir}: call install() first")
        if image is not None and not image.exists():
            raise VirtualBoardError(f"no flash image {image.path}: call install() first")
        self._claim()
        self._request = None
        self._interrupt.clear()
        # A request left by a supervisor that ended is not for this one.
        self._file("power_cut.json").unlink(missing_ok=True)
        self._thread = threading.Thread(
            target=self._supervise, name=f"vboard:{self.directory.name}", daemon=True
        )
        self._thread.start()
        self._controls_thread = threading.Thread(
            target=self._watch_controls, name=f"vboard-controls:{self.directory.name}", daemon=True
        )
        self._controls_thread.start()

    def request_stop(self) -> None:
        """Ask the supervisor to switch the board off, without waiting; stop() then waits."""
        if self.running:
            self._request = "stop"
            self._interrupt.set()
            self._inputs_changed.set()

    def stop(self) -> None:
        """Switch the board off: the firmware process is killed where it is."""
        if not self.running:
            return
        self.request_stop()
        thread = self._thread
        if thread is not None:
            thread.join(_STOP_TIMEOUT_S)
            if thread.is_alive():
                raise VirtualBoardError(
                    f"virtual board {self.directory} did not stop within {_STOP_TIMEOUT_S} s"
                )

    def power_cut(self, off_s: float = 0.0) -> None:
        """Cut the power (the firmware process is killed at once), wait off_s, power on again.

        RTC memory is lost; the flash (directory or image) keeps what was written.
        """
        if not self.running:
            raise VirtualBoardError(
                f"virtual board {self.directory} is not running in this process"
            )
        self._power_off_s = off_s
        self._send_request("power_cut")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _send_request(self, request: str) -> None:
        self._request_done.clear()
        self._request = request
        self._interrupt.set()
        self._inputs_changed.set()
        if not self._request_done.wait(_STOP_TIMEOUT_S):
            raise VirtualBoardError(
                f"virtual board {self.directory} did not handle {request} within {_STOP_TIMEOUT_S} s"
            )

    def _claim(self) -> None:
        # One supervisor per board directory, across processes.
        with _running_lock:
            if self.directory in _running:
                raise VirtualBoardError(
                    f"virtual board {self.directory} is already supervised in this process"
                )
            status = self._read_json("supervisor.json", {})
            pid = status.get("pid")
            if status.get("power") == "on" and pid and pid != os.getpid() and _pid_alive(pid):
                raise VirtualBoardError(
                    f"virtual board {self.directory} is already supervised by process {pid}"
                )
            _running[self.directory] = self

    def _release(self) -> None:
        with _running_lock:
            _running.pop(self.directory, None)

    def _status(self, **status: Any) -> None:
        status.setdefault("power", "on")
        self._write_json(
            "supervisor.json",
            {"pid": os.getpid(), "boots": self._boots, "updated": time.time(), **status},
        )

    def _console_note(self, text: str) -> None:
        with self.console_path.open("a") as stream:
            stream.write(f"--- vboard: {text}\n")

    def _power_on(self) -> None:
        # Power-on: RTC memory and wake sources are gone.
        self._file("rtc_memory.bin").unlink(missing_ok=True)
        self._file("sleep.json").unlink(missing_ok=True)

    def _take_request(self) -> str | None:
        request = self._request
        self._request = None
        self._interrupt.clear()
        return request

    def _watch_controls(self) -> None:
        # Runs beside the supervising thread: makes the power cuts that other
        # processes request (power_cut.json) and sets the attached modem's
        # fault to inputs.json "modem_fault".
        request_path = self._file("power_cut.json")
        supervising = self._thread
        while supervising is not None and supervising.is_alive():
            self._apply_modem_fault()
            if request_path.exists():
                try:
                    self._take_power_cut_request()
                finally:
                    request_path.unlink(missing_ok=True)
            supervising.join(max(_CONTROL_POLL_S, self.wake_poll_s))

    def _take_power_cut_request(self) -> None:
        request = self._read_json("power_cut.json")
        if not isinstance(request, dict):
            return
        age_s = time.time() - float(request.get("requested", 0))
        off_until = self._read_json("supervisor.json", {}).get("off_until")
        if age_s > _POWER_CUT_REQUEST_MAX_AGE_S or off_until is not None:
            # Left by an earlier supervisor, or the power is already off.
            log.info("vboard.power_cut_ignored", directory=str(self.directory), age_s=age_s)
            return
        try:
            self.power_cut(float(request.get("off_s", 0.0)))
        except VirtualBoardError as error:
            log.warning("vboard.power_cut_failed", directory=str(self.directory), error=str(error))

    def _apply_modem_fault(self) -> None:
        modem = self._modem
        if modem is None:
            return
        fault = self.inputs().get("modem_fault")
        if modem.fault != fault:
            modem.fault = fault
            log.info("vboard.modem_fault", directory=str(self.directory), fault=fault)

    def _supervise(self) -> None:
        reset_cause, wake_reason = PWRON_RESET, NO_WAKE
        self._power_on()
        try:
            while True:
                outcome = self._boot(reset_cause, wake_reason)
                if outcome is None:
                    request = self._take_request()
                    if request != "power_cut":
                        return
                    self._console_note("power cut")
                    log.info(
                        "vboard.power_cut", directory=str(self.directory), off_s=self._power_off_s
                    )
                    self._status(
                        power="off", process="off", off_until=time.time() + self._power_off_s
                    )
                    self._request_done.set()
                    if self._interrupt.wait(self._power_off_s):
                        if self._take_request() == "stop":
                            return
                        self._request_done.set()
                    self._power_on()
                    reset_cause, wake_reason = PWRON_RESET, NO_WAKE
                    continue
                reset_cause, wake_reason = outcome
        finally:
            self._kill()
            self._status(power="off", process="off")
            self._release()
            self._console_note("power off")
            log.info("vboard.stopped", directory=str(self.directory), boots=self._boots)
            self._request_done.set()

    def _boot(self, reset_cause: int, wake_reason: int) -> tuple[int, int] | None:
        # Run the firmware once. Return the reset cause and wake reason of the
        # next boot, or None when a request (stop, power cut) interrupted.
        self._boots += 1
        self._write_json(
            "boot.json",
            {"reset_cause": reset_cause, "wake_reason": wake_reason, "boot": self._boots},
        )
        self._console_note(
            f"boot {self._boots}: reset cause {RESET_CAUSE_NAMES.get(reset_cause, reset_cause)}, "
            f"wake reason {WAKE_REASON_NAMES.get(wake_reason, wake_reason)}"
        )
        self._status(process="running")
        exit_status = self._run_firmware()
        if exit_status is None:
            return None

        if exit_status == EXIT_DEEPSLEEP:
            sleep = self._read_json("sleep.json", {})
            self._status(process="sleeping", sleep=sleep)
            wake = self._sleep_until_wake(sleep)
            if wake is None:
                return None
            return DEEPSLEEP_RESET, wake
        if exit_status == EXIT_RESET:
            return SOFT_RESET, NO_WAKE
        if exit_status == EXIT_WATCHDOG:
            return WDT_RESET, NO_WAKE

        # main.py returned (unprovisioned: the REPL waits) or the interpreter
        # failed: the chip stays on, doing nothing, until power is cut.
        self._console_note(
            f"firmware stopped with exit status {exit_status}; the board waits at the REPL"
        )
        log.info("vboard.halted", directory=str(self.directory), exit_status=exit_status)
        self._status(process="halted", exit_status=exit_status)
        self._interrupt.wait()
        return None

    def firmware_env(self, supervised: bool = False) -> dict[str, str]:
        """Return the environment for MicroPython scripts run on this board's flash.

        Run them with the flash directory as working directory. Supervised
        processes lose power when this process ends.
        """
        extra = {"VBOARD_DIR": str(self.directory)}
        if supervised:
            extra["VBOARD_SUPERVISOR_PID"] = str(os.getpid())
        image = self.flash_image
        if image is not None:
            # For simulator/hardware/_flash.py, which mounts the image.
            extra["VBOARD_FLASH_IMAGE"] = str(image.path)
            extra["VBOARD_FLASH_OFFSET"] = str(image.offset)
            extra["VBOARD_FLASH_SIZE"] = str(image.size)
        return micropython_env([HARDWARE_MODULES_DIR], extra)

    def firmware_command(self) -> tuple[list[str], Path]:
        """Return the command that boots the firmware, and its working directory.

        A flash directory runs main.py in it. An image runs the boot script,
        which mounts the image and runs main.py from littlefs.
        """
        if self.flash_image is None:
            return micropython_command("main.py", heap_size=self.heap_size), self.flash_dir
        return micropython_command(BOOT_IMAGE_SCRIPT, heap_size=self.heap_size), self.directory

    def _watchdog_expired(self) -> bool:
        # The chip's watchdog, started and fed by the firmware (machine.WDT).
        watchdog = self._read_json("watchdog.json")
        if not watchdog:
            return False
        starved_s = time.time() - watchdog["fed_us"] / 1e6
        return starved_s * 1000 > watchdog["timeout_ms"]

    def _run_firmware(self) -> int | None:
        # Every reset and deep sleep stops the watchdog.
        self._file("watchdog.json").unlink(missing_ok=True)
        env = self.firmware_env(supervised=True)
        command, cwd = self.firmware_command()
        with self.console_path.open("ab") as console:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        self._process = process
        while process.poll() is None:
            if self._interrupt.wait(self.run_poll_s):
                self._kill()
                return None
            if self._watchdog_expired():
                self._kill()
                self._console_note("watchdog reset")
                log.info("vboard.watchdog_reset", directory=str(self.directory))
                return EXIT_WATCHDOG
        self._process = None
        return process.returncode

    def _kill(self) -> None:
        process = self._process
        self._process = None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def _sleep_until_wake(self, sleep: dict[str, Any]) -> int | None:
        ext0 = sleep.get("ext0")
        ext1 = sleep.get("ext1")
        timer_ms = sleep.get("timer_ms") or 0
        asleep_since = sleep.get("t_us", time.time() * 1e6) / 1e6
        self._pin_latched = False
        self._sleeping = sleep
        try:
            return self._wait_for_wake(ext0, ext1, timer_ms, asleep_since)
        finally:
            self._sleeping = None

    def _wait_for_wake(
        self,
        ext0: dict[str, Any] | None,
        ext1: dict[str, Any] | None,
        timer_ms: int,
        asleep_since: float,
    ) -> int | None:
        while True:
            if ext0 and (self._pin_latched or self.pin_level(ext0["pin"]) == ext0["level"]):
                return PIN_WAKE
            if ext1:
                levels = [self.pin_level(pin) for pin in ext1["pins"]]
                if (ext1["level"] and any(levels)) or (not ext1["level"] and not any(levels)):
                    return EXT1_WAKE
            wait_s = self.wake_poll_s
            if timer_ms:
                left_s = timer_ms / 1000 - (time.time() - asleep_since)
                if left_s <= 0:
                    return TIMER_WAKE
                wait_s = min(wait_s, left_s)
            self._inputs_changed.wait(wait_s)
            self._inputs_changed.clear()
            if self._interrupt.is_set():
                return None

"""Virtual sticker board: the real firmware on the MicroPython unix port.

A board lives in one directory:

    flash/          the device's file system: firmware files, config.json and
                    what the firmware stores (journal/, seq.a, seq.b)
    hardware.json   wiring, from the board's pin map
    inputs.json     the controls: light level, battery voltage, Wi-Fi
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

from simulator.upython import micropython_command, micropython_env

log = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
HARDWARE_MODULES_DIR = Path(__file__).resolve().parent / "hardware"
DEFAULT_PINMAP = "esp32s3_ref"

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
    ) -> None:
        self.directory = Path(directory).resolve()
        self.config = config
        self.firmware_dir = firmware_dir
        self.pinmap = pinmap or (config or {}).get("board") or DEFAULT_PINMAP
        self.heap_size = heap_size
        # While the chip sleeps, the supervisor looks at the wake pin this
        # often; controls from this process wake it at once. Controls from
        # other processes (the CLI) are seen only by this polling.
        self.wake_poll_s = wake_poll_s
        self._inputs_changed = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._interrupt = threading.Event()
        self._request: str | None = None
        self._request_done = threading.Event()
        self._power_off_s = 0.0
        self._boots = 0
        self._inputs_cache: tuple[int, dict[str, Any]] | None = None
        self._hardware_cache: tuple[int, dict[str, Any]] | None = None

    # Files

    def _file(self, name: str) -> Path:
        return self.directory / name

    @property
    def flash_dir(self) -> Path:
        return self._file("flash")

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
        """Copy the firmware to the flash directory and wire the hardware.

        Data already on flash (journal, sequence numbers) is kept; config.json
        is written when the board has a config.
        """
        pinmap_path = self.firmware_dir / "boards" / f"{self.pinmap}.py"
        if not pinmap_path.exists():
            raise VirtualBoardError(f"unknown board {self.pinmap!r}: {pinmap_path} does not exist")
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        for relative in firmware_files(self.firmware_dir):
            target = self.flash_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.firmware_dir / relative, target)

        settings = dict(firmware_defaults(self.firmware_dir))
        if self.config is not None:
            config = dict(self.config)
            config.setdefault("board", self.pinmap)
            (self.flash_dir / "config.json").write_text(json.dumps(config, indent=2))
            settings.update(config)

        pins = read_pinmap(pinmap_path)
        self._write_json(
            "hardware.json",
            {
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
            supervisor._inputs_changed.set()

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
        if not (self.flash_dir / "main.py").exists():
            raise VirtualBoardError(f"no firmware in {self.flash_dir}: call install() first")
        self._claim()
        self._request = None
        self._interrupt.clear()
        self._thread = threading.Thread(
            target=self._supervise, name=f"vboard:{self.directory.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Switch the board off: the firmware process is killed where it is."""
        if not self.running:
            return
        self._send_request("stop")
        thread = self._thread
        if thread is not None:
            thread.join(_STOP_TIMEOUT_S)

    def power_cut(self, off_s: float = 0.0) -> None:
        """Cut the power (the firmware process is killed at once), wait off_s, power on again.

        RTC memory is lost; the flash directory is kept.
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
                    self._status(power="off", process="off")
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
        return micropython_env([HARDWARE_MODULES_DIR], extra)

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
        with self.console_path.open("ab") as console:
            process = subprocess.Popen(
                micropython_command("main.py", heap_size=self.heap_size),
                cwd=self.flash_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        self._process = process
        while process.poll() is None:
            if self._interrupt.wait(0.02):
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
        while True:
            if ext0 and self.pin_level(ext0["pin"]) == ext0["level"]:
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

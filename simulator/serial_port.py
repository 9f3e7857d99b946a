"""The virtual board behind a serial line: a pseudo-terminal (pty) that serves
the MicroPython REPL and the ESP32-S3 ROM bootloader, so esptool, mpremote and
pyserial run unchanged against it.

Files in the board directory, next to those of simulator/vboard.py:

    flash.bin       the 4 MiB flash chip, as esptool wrote it; the littlefs
                    partition in it is the file system of the REPL and firmware
    faults.json     failures to inject, e.g. ["flash_write"], ["repl_silent"]
    serial.json     the pty path and the supervisor's process id
    tty             a symbolic link to the pty

IKKI_SERIAL_TRACE=1 logs every chunk of bytes the pty receives and sends.

Bootloader and REPL switch as follows, because a pty carries no DTR and RTS
lines to pulse the chip's EN and GPIO0 pins:

- A SLIP frame with the SYNC command (c0 00 08) arriving while the REPL runs
  resets the chip into the ROM bootloader: the interpreter is killed, as a
  reset with GPIO0 held low would do. esptool connects with
  `--before no-reset`.
- FLASH_END, which `esptool --after soft-reset` sends to the ROM ("run
  user code"), boots the firmware. So does a Ctrl-C or Ctrl-B outside a
  SLIP frame, which is how mpremote starts a session. That Ctrl-C also
  interrupts main.py, so mpremote reaches the REPL.

At boot the firmware needs a MicroPython image (first byte 0xE9) at 0x0.
Then MicroPython mounts the littlefs partition of flash.bin itself
(vfs.VfsLfs2 on simulator/hardware/blockdev.py, at /flash, see
simulator/hardware/_flash.py), so the REPL, mpremote and the firmware read
and write the partition that esptool wrote. A partition that does not mount
is formatted, as the ESP32 port does.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import pty
import select
import signal
import subprocess
import threading
import time
import tty
from pathlib import Path
from typing import Any, Self

import structlog

from provisioning.layout import ESP_IMAGE_MAGIC, VFS_OFFSET, VFS_SIZE
from simulator.bootloader import RomLoader, SlipDecoder
from simulator.flash import FlashImage, FlashImageError
from simulator.upython import micropython_command
from simulator.vboard import (
    DEEPSLEEP_RESET,
    DEFAULT_HEAP_SIZE,
    DEFAULT_PINMAP,
    EXIT_DEEPSLEEP,
    EXIT_RESET,
    FIRMWARE_DIR,
    NO_WAKE,
    PWRON_RESET,
    SOFT_RESET,
    VirtualBoard,
    firmware_defaults,
    read_pinmap,
)

log = structlog.get_logger(__name__)

REPL_SCRIPT = Path(__file__).resolve().parent / "raw_repl.py"
EXIT_SOFT_RESET_RAW = 89
EXIT_SOFT_RESET_FRIENDLY = 90
SYNC_FRAME_START = b"\xc0\x00\x08"
# Output waits this long for a host that stops reading, then is dropped, as
# a UART drops what no host reads.
_WRITE_TIMEOUT_S = 1.0
_TRACE = os.environ.get("IKKI_SERIAL_TRACE") == "1"


class SerialBoard:
    """One virtual board on a pty: ROM bootloader, then MicroPython and the firmware."""

    def __init__(
        self,
        directory: Path | str,
        *,
        chip: str = "esp32s3",
        mac: bytes | None = None,
        heap_size: str = DEFAULT_HEAP_SIZE,
    ) -> None:
        self.board = VirtualBoard(directory)
        self.directory = self.board.directory
        self.chip = chip
        self.heap_size = heap_size
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(self.directory).encode()).digest()
        self.mac = mac or b"\x7c\xdf\xa1" + digest[:3]
        self.loader = RomLoader(
            self.directory / "flash.bin", chip=chip, mac=self.mac,
            faults_path=self.directory / "faults.json",
        )
        self._master = -1
        self._slave = -1
        self.port = ""
        self._mode = "off"  # off, bootloader, firmware, sleeping
        self._lock = threading.RLock()
        self._child: subprocess.Popen[bytes] | None = None
        self._decoder = SlipDecoder()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._boots = 0
        self.dropped_bytes = 0

    # Life cycle

    def start(self) -> str:
        """Power the board on and return the pty path to open."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        link = self.directory / "tty"
        link.unlink(missing_ok=True)
        link.symlink_to(self.port)
        self.board._write_json("serial.json", {"port": self.port, "pid": os.getpid()})
        reader = threading.Thread(target=self._read_host, name=f"serial:{self.directory.name}",
                                  daemon=True)
        self._threads.append(reader)
        reader.start()
        self._power_on()
        log.info("serial_board.started", directory=str(self.directory), port=self.port)
        return self.port

    def stop(self) -> None:
        self._stopping.set()
        self.board._interrupt.set()
        with self._lock:
            self._kill_child()
            self._mode = "off"
        for thread in self._threads:
            thread.join(5)
        self.board._status(power="off", process="off")
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        (self.directory / "tty").unlink(missing_ok=True)
        log.info("serial_board.stopped", directory=str(self.directory), boots=self._boots)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def mode(self) -> str:
        return self._mode

    def set_faults(self, *names: str) -> None:
        """Inject failures: "flash_write" (FLASH_DATA fails), "repl_silent" (the REPL stays silent)."""
        self.board._write_json("faults.json", list(names))

    def _faults(self) -> set[str]:
        return set(self.board._read_json("faults.json", []) or [])

    # Host side of the pty

    def _send(self, data: bytes) -> None:
        if _TRACE:
            log.debug("serial_board.sent", mode=self._mode, data=data[:200])
        view = memoryview(data)
        deadline = time.monotonic() + _WRITE_TIMEOUT_S
        while view:
            try:
                written = os.write(self._master, view)
                view = view[written:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.dropped_bytes += len(view)
                    return
                select.select([], [self._master], [], 0.05)
            except OSError:
                return

    def _read_host(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EIO):
                    time.sleep(0.01)
                    continue
                raise
            with self._lock:
                self._dispatch(data)

    def _dispatch(self, data: bytes) -> None:
        if _TRACE:
            log.debug("serial_board.received", mode=self._mode, data=data[:200])
        if self._mode == "bootloader":
            self._feed_bootloader(data)
            return
        start = data.find(SYNC_FRAME_START)
        if start >= 0:
            self._to_firmware(data[:start])
            self._enter_bootloader()
            self._feed_bootloader(data[start:])
            return
        self._to_firmware(data)

    def _to_firmware(self, data: bytes) -> None:
        if self._mode == "no_firmware" and data:
            # The ROM finds no application and resets again and again,
            # printing this line each time.
            self._send(b"invalid header: 0xffffffff\r\n")
            return
        child = self._child
        if not data or child is None or child.poll() is not None or self._mode != "firmware":
            return
        if b"\x03" in data:
            self._interrupt(child)
        try:
            assert child.stdin is not None
            child.stdin.write(data)
            child.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def _interrupt(self, child: subprocess.Popen[bytes]) -> None:
        # SIGINT before the interpreter set its handler would kill it, so a
        # Ctrl-C that arrives during start-up waits until the REPL is ready.
        if self._repl_ready(child):
            child.send_signal(signal.SIGINT)
            return

        def send_when_ready() -> None:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and child.poll() is None:
                if self._repl_ready(child):
                    child.send_signal(signal.SIGINT)
                    return
                time.sleep(0.01)

        threading.Thread(target=send_when_ready, daemon=True).start()

    def _repl_ready(self, child: subprocess.Popen[bytes]) -> bool:
        # SIGINT before the interpreter set its handler would kill it.
        try:
            return (self.directory / "repl.pid").read_text().strip() == str(child.pid)
        except OSError:
            return False

    # Bootloader

    def _enter_bootloader(self) -> None:
        self._kill_child()
        self._mode = "bootloader"
        self._decoder = SlipDecoder()
        self.loader.reboot_requested = False
        self.board._status(process="bootloader")
        self.board._console_note("reset into the ROM bootloader (serial download mode)")
        log.info("serial_board.bootloader", directory=str(self.directory))

    def _feed_bootloader(self, data: bytes) -> None:
        frames, outside = self._decoder.feed(data)
        for frame in frames:
            for reply in self.loader.handle_frame(frame):
                self._send(reply)
        if self.loader.reboot_requested or b"\x03" in outside or b"\x02" in outside:
            self._boot(PWRON_RESET, NO_WAKE, run_main=True)
            child = self._child
            if b"\x03" in outside and child is not None:
                # The Ctrl-C that left the bootloader also stops main.py, so
                # the host that sent it reaches the REPL.
                self._interrupt(child)

    # Firmware

    def _power_on(self) -> None:
        self.board._power_on()
        with self._lock:
            self._boot(PWRON_RESET, NO_WAKE, run_main=True)

    def _boot(self, reset_cause: int, wake_reason: int, *, run_main: bool,
              repl_mode: str = "friendly") -> None:
        self._kill_child()
        self._boots += 1
        self.board._boots = self._boots
        if reset_cause == PWRON_RESET:
            self.board._power_on()
        if not self._has_firmware():
            self._mode = "no_firmware"
            self.board._status(process="halted")
            self._send(b"invalid header: 0xffffffff\r\n")
            return
        self._write_hardware()
        self.board._write_json(
            "boot.json", {"reset_cause": reset_cause, "wake_reason": wake_reason, "boot": self._boots}
        )
        self.board._console_note(f"boot {self._boots}: serial line, reset cause {reset_cause}, "
                                 f"wake reason {wake_reason}")
        (self.directory / "repl.pid").unlink(missing_ok=True)
        env = self.board.firmware_env(supervised=True)
        env["IKKI_REPL_MODE"] = repl_mode
        env["IKKI_REPL_RUN_MAIN"] = "1" if run_main else "0"
        if "repl_silent" in self._faults():
            self._mode = "halted"
            self.board._status(process="halted")
            return
        child = subprocess.Popen(
            micropython_command(REPL_SCRIPT, heap_size=self.heap_size),
            cwd=self.directory, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self._child = child
        self._mode = "firmware"
        self.board._status(process="running")
        relay = threading.Thread(target=self._relay_output, args=(child,),
                                 name=f"serial-out:{self.directory.name}", daemon=True)
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        self._threads.append(relay)
        relay.start()

    def _relay_output(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        with self.board.console_path.open("ab") as console:
            while True:
                data = os.read(child.stdout.fileno(), 4096)
                if not data:
                    break
                console.write(data)
                console.flush()
                if self._child is child:
                    self._send(data)
        status = child.wait()
        if self._stopping.is_set():
            return
        with self._lock:
            if self._child is not child:
                return  # killed by a reset
            self._child = None
            self._after_exit(status)

    def _after_exit(self, status: int) -> None:
        if status == EXIT_SOFT_RESET_RAW:
            self._boot(SOFT_RESET, NO_WAKE, run_main=False, repl_mode="raw")
        elif status in (EXIT_SOFT_RESET_FRIENDLY, EXIT_RESET):
            self._boot(SOFT_RESET, NO_WAKE, run_main=True)
        elif status == EXIT_DEEPSLEEP:
            self._mode = "sleeping"
            sleep = self.board._read_json("sleep.json", {})
            self.board._status(process="sleeping", sleep=sleep)
            threading.Thread(target=self._sleep, args=(sleep,), daemon=True).start()
        else:
            self.board._console_note(f"interpreter ended with status {status}; the board halts")
            self._mode = "halted"
            self.board._status(process="halted", exit_status=status)

    def _sleep(self, sleep: dict[str, Any]) -> None:
        wake = self.board._sleep_until_wake(sleep)
        with self._lock:
            if wake is None or self._mode != "sleeping" or self._stopping.is_set():
                return
            self._boot(DEEPSLEEP_RESET, wake, run_main=True)

    def _kill_child(self) -> None:
        child = self._child
        self._child = None
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()

    # Flash image

    def _flash_bytes(self, offset: int, size: int) -> bytes:
        with self.loader.flash_path.open("rb") as flash:
            flash.seek(offset)
            return flash.read(size)

    def _has_firmware(self) -> bool:
        return self._flash_bytes(0, 1) == bytes([ESP_IMAGE_MAGIC])

    @property
    def flash_image(self) -> FlashImage:
        """The littlefs partition of flash.bin, where the REPL and the firmware keep their files."""
        return FlashImage(self.loader.flash_path, offset=VFS_OFFSET, size=VFS_SIZE)

    def _write_hardware(self) -> None:
        settings = dict(firmware_defaults(FIRMWARE_DIR))
        try:
            settings.update(json.loads(self.flash_image.read("config.json")))
        except (FileNotFoundError, FlashImageError, ValueError):
            # No config.json yet, or a partition that MicroPython formats at this boot.
            pass
        pinmap = settings.get("board") or DEFAULT_PINMAP
        pinmap_path = FIRMWARE_DIR / "boards" / f"{pinmap}.py"
        if not pinmap_path.exists():
            pinmap_path = FIRMWARE_DIR / "boards" / f"{DEFAULT_PINMAP}.py"
        pins = read_pinmap(pinmap_path)
        image = self.flash_image
        self.board._write_json("hardware.json", {
            "flash": {"mode": "image", "image": image.path.name, "offset": image.offset,
                      "size": image.size},
            "pinmap": pinmap,
            "pins": {
                "light_adc": pins["LIGHT_ADC_PIN"], "light_wake": pins["LIGHT_WAKE_PIN"],
                "battery_adc": pins["BATTERY_ADC_PIN"], "amp_enable": pins["AMP_ENABLE_PIN"],
                "i2s_sck": pins["I2S_SCK_PIN"], "i2s_ws": pins["I2S_WS_PIN"],
                "i2s_sd": pins["I2S_SD_PIN"],
            },
            "battery_divider": pins["BATTERY_DIVIDER"],
            "comparator_threshold": settings["light_threshold"],
        })
        if not (self.directory / "inputs.json").exists():
            self.board._update_inputs(light=40000, battery_mv=3900, wifi=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a virtual sticker board behind a pty.")
    parser.add_argument("directory", type=Path, help="board directory (created if missing)")
    parser.add_argument("--chip", default="esp32s3", choices=["esp32s3", "esp32"],
                        help="chip the ROM bootloader reports")
    options = parser.parse_args()
    board = SerialBoard(options.directory, chip=options.chip)
    port = board.start()
    print(port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    board.stop()


if __name__ == "__main__":
    main()

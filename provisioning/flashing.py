"""esptool, run as its own command: chip detection and one write of both images."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from provisioning.errors import StationError
from provisioning.layout import FIRMWARE_OFFSET, VFS_OFFSET

EXPECTED_CHIP = "ESP32-S3"
ESPTOOL_TIMEOUT_S = 120
_CHIP_LINE = re.compile(r"(?:Chip type|Chip is|Detecting chip type\.\.\.)\s*:?\s*(ESP[\w-]+)")


@dataclass(frozen=True)
class ResetMode:
    before: str
    after: str


def is_virtual_port(port: str) -> bool:
    """Return True for a pty (a virtual board), which has no DTR and RTS lines to reset the chip."""
    real = os.path.realpath(port)
    return real.startswith("/dev/pts/")


def reset_mode(port: str) -> ResetMode:
    if is_virtual_port(port):
        # The virtual board enters its bootloader on the SYNC frame and boots
        # the firmware on FLASH_END ("run user code").
        return ResetMode("no-reset", "soft-reset")
    return ResetMode("default-reset", "hard-reset")


def esptool(port: str, *arguments: str, chip: str = "auto") -> subprocess.CompletedProcess[str]:
    mode = reset_mode(port)
    command = [
        sys.executable, "-m", "esptool", "--chip", chip, "--port", port,
        "--before", mode.before, "--after", mode.after, "--no-stub", "--connect-attempts", "2",
        *arguments,
    ]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=ESPTOOL_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise StationError("chip_silent", port=port) from None


def _failure_detail(result: subprocess.CompletedProcess[str]) -> str:
    # esptool 5 ends a failure with "A fatal error occurred: <what failed>" on stderr.
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    for line in reversed(lines):
        _, marker, detail = line.partition("A fatal error occurred: ")
        if marker:
            return detail[:300]
    return lines[-1][:300] if lines else f"esptool exit status {result.returncode}"


def detect_chip(port: str) -> str:
    """Return the chip name esptool reports (e.g. ESP32-S3); raise if it is not an ESP32-S3."""
    if not Path(port).exists():
        raise StationError("port_missing", port=port)
    result = esptool(port, "read-mac")
    output = result.stdout + result.stderr
    match = _CHIP_LINE.search(output)
    if result.returncode != 0 or match is None:
        raise StationError("chip_silent", port=port)
    chip = match.group(1)
    if chip != EXPECTED_CHIP:
        raise StationError("wrong_chip", port=port, chip=chip)
    return chip


def write_flash(port: str, firmware: Path, vfs: Path) -> None:
    """Write the MicroPython image and the littlefs image in one esptool call; esptool verifies both by MD5.

    NOTE: a write that fails after the erase leaves the board without its
    identity. A board registered earlier then gets a new one on the next run;
    its old registration stays, and its old label must be thrown away.
    """
    result = esptool(
        port, "write-flash", "--compress", "--flash-size", "keep",
        hex(FIRMWARE_OFFSET), str(firmware), hex(VFS_OFFSET), str(vfs), chip="esp32s3",
    )
    output = result.stdout + result.stderr
    if "Wrong chip argument" in output or "This chip is" in output:
        chip = re.search(r"This chip is (ESP[\w-]+)", output)
        raise StationError("wrong_chip", port=port, chip=chip.group(1) if chip else "?")
    if result.returncode != 0:
        if "Failed to connect" in output or "No serial data received" in output:
            raise StationError("chip_silent", port=port)
        raise StationError("flash_failed", port=port, detail=_failure_detail(result))
    if output.count("Hash of data verified") < 2:
        raise StationError("flash_failed", port=port, detail="esptool did not verify both images")


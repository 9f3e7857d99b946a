"""The virtual board's flash as a littlefs image that MicroPython mounts itself (flash mode "image")."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

from littlefs import LittleFS

from provisioning.image import build_vfs_image
from provisioning.layout import VFS_BLOCK_SIZE, VFS_SIZE
from simulator.vboard import FIRMWARE_DIR, VirtualBoard, firmware_files, make_config

CHECK_MAIN = """
import os
import sys
print("check cwd=%s path0=%s marker=%s" % (os.getcwd(), sys.path[0], open("marker.txt").read()))
import version
print("check module=%s" % version.__file__)
"""

# Rewrites a counter file (write to a temporary file, then rename) and a few
# other files as fast as it can, so that a power cut lands in the middle of
# littlefs writes and commits.
WRITER_MAIN = """
import os
try:
    with open("count") as stream:
        count = int(stream.read().split()[0])
except OSError:
    count = 0
print("writer start=%d" % count)
pad = "x" * 2000
while True:
    count += 1
    with open("count.tmp", "w") as stream:
        stream.write("%d %s" % (count, pad))
    os.rename("count.tmp", "count")
    with open("churn-%d" % (count % 5), "w") as stream:
        stream.write(pad)
"""


def _wait_until(condition, timeout: float, description: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{description} not reached within {timeout} s")
        time.sleep(0.01)


def _halted(board: VirtualBoard) -> bool:
    return board.state()["process"] == "halted"


def _mount_host(path: Path) -> LittleFS:
    filesystem = LittleFS(
        block_size=VFS_BLOCK_SIZE, block_count=VFS_SIZE // VFS_BLOCK_SIZE, mount=False
    )
    filesystem.context.buffer = bytearray(path.read_bytes())
    filesystem.mount()
    return filesystem


def test_install_packs_factory_image(micropython_available, tmp_path: Path, device):
    device_id, key = device
    config = make_config(device_id, key.hex())
    board = VirtualBoard(tmp_path / "board", config, flash="image")

    board.install()

    sources = {str(name): (FIRMWARE_DIR / name).read_bytes() for name in firmware_files()}
    factory = build_vfs_image(sources, {**config, "board": board.pinmap})
    image = board.flash_image
    assert image is not None
    assert image.path.read_bytes() == factory
    filesystem = _mount_host(image.path)
    with filesystem.open("main.py", "rb") as stream:
        assert stream.read() == (FIRMWARE_DIR / "main.py").read_bytes()
    assert board.flash_files() == sorted([*sources, "config.json"])
    assert json.loads(board.read_flash_file("config.json"))["device_id"] == device_id
    assert not board.flash_dir.exists()
    assert VirtualBoard(tmp_path / "board").flash_mode == "image"


def test_reinstall_updates_firmware_and_keeps_data(micropython_available, tmp_path: Path, device):
    device_id, key = device
    board = VirtualBoard(tmp_path / "board", make_config(device_id, key.hex()), flash="image")
    board.install()
    stored = {
        "journal.d/0000000007.json": b'{"type": "opened", "up": 12}',
        "journal.d/dropped": b"2",
        "seq.a": b"32 1f2e3d4c\n",
        "seq.b": b"48 5a6b7c8d\n",
        "armed": b"",
        "finished": b"",
    }
    for name, data in stored.items():
        board.write_flash_file(name, data)
    firmware = tmp_path / "firmware"
    shutil.copytree(FIRMWARE_DIR, firmware)
    (firmware / "version.py").write_text('VERSION = "9.9.9"\n')

    VirtualBoard(
        tmp_path / "board",
        make_config(device_id, key.hex(), cry_max_s=7),
        firmware_dir=firmware,
    ).install()

    for name, data in stored.items():
        assert board.read_flash_file(name) == data, name
    assert board.read_flash_file("version.py") == b'VERSION = "9.9.9"\n'
    assert json.loads(board.read_flash_file("config.json"))["cry_max_s"] == 7


def test_firmware_reads_its_files_from_littlefs(micropython_available, tmp_path: Path):
    board = VirtualBoard(tmp_path / "board", flash="image")
    board.install()
    board.write_flash_file("main.py", CHECK_MAIN.encode())
    board.write_flash_file("marker.txt", b"only-in-the-image")

    board.start()
    try:
        _wait_until(lambda: _halted(board), 10, "main.py returned")
    finally:
        board.stop()

    console = board.console_path.read_text()
    assert "check cwd=/flash path0=/flash marker=only-in-the-image" in console
    assert "check module=/flash/version.py" in console
    assert "Traceback" not in console


def test_unmountable_image_is_formatted(micropython_available, tmp_path: Path):
    board = VirtualBoard(tmp_path / "board", flash="image")
    board.install()
    image = board.flash_image
    assert image is not None
    with image.path.open("r+b") as stream:
        stream.write(bytes(2 * VFS_BLOCK_SIZE))  # both superblocks

    board.start()
    try:
        _wait_until(lambda: _halted(board), 10, "the board at its REPL")
    finally:
        board.stop()

    assert "does not mount" in board.console_path.read_text()
    assert "flash.format" in [event["event"] for event in board.hardware_events()]
    assert board.flash_files() == []


def test_power_cuts_mid_write_leave_mountable_image(micropython_available, tmp_path: Path):
    # 12 cuts at random instants (fixed seed) while the firmware rewrites
    # files: each boot mounts the image again and finds the last counter
    # that littlefs committed, never an older one.
    cuts = random.Random(7)
    board = VirtualBoard(tmp_path / "board", flash="image")
    board.install()
    board.write_flash_file("main.py", WRITER_MAIN.encode())

    mark = board.console_size()
    board.start()
    try:
        for _ in range(12):
            _wait_until(lambda since=mark: _writer_started(board, since), 10, "the writer running")
            time.sleep(cuts.uniform(0.02, 0.15))
            mark = board.console_size()
            board.power_cut()
        _wait_until(lambda: board.console_path.read_text().count("writer start=") == 13, 10, "boot 13")
        # Let the last run write for a while, then switch off.
        time.sleep(0.1)
    finally:
        board.stop()

    console = board.console_path.read_text()
    starts = [int(line.split("=")[1]) for line in console.splitlines() if line.startswith("writer start=")]
    assert "does not mount" not in console
    assert "Traceback" not in console
    assert len(starts) == 13
    assert starts == sorted(starts)
    assert starts[-1] > 0
    final = int(board.read_flash_file("count").split()[0])
    assert final >= starts[-1]


def _writer_started(board: VirtualBoard, since: int) -> bool:
    # `since` is an offset taken before the boot, so the line starts after it.
    if not board.console_path.exists():
        return False
    with board.console_path.open("rb") as stream:
        stream.seek(since)
        return b"\nwriter start=" in stream.read()

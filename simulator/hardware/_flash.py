# The virtual board's flash as littlefs (MicroPython code, run before the
# firmware): mounts the image with vfs.VfsLfs2 on the file-backed block
# device, and applies the flash-full fault.
#
# The ESP32 port mounts its "vfs" partition at "/". The unix port keeps the
# host's file system (VfsPosix) at "/", where the simulated hardware modules
# and the board directory are, so the image goes to /flash and becomes the
# working directory and the first entry of sys.path.
#
# Environment, set by the supervisor (simulator/vboard.py):
#   VBOARD_FLASH_IMAGE   the file that contains the image
#   VBOARD_FLASH_OFFSET  where the partition starts in that file, in bytes
#   VBOARD_FLASH_SIZE    the partition size, in bytes
import os
import sys

import vfs
from micropython import const

import _vboard
from blockdev import BLOCK_SIZE, FileBlockDevice

MOUNT_POINT = "/flash"
# Written by fill() to take the free space; the firmware never opens it.
FILLER = "vboard.fill"
_ENOSPC = const(28)
# A filler chunk: one block less the CTZ skip-list pointers littlefs keeps in
# each data block (at most 40 bytes in a file of up to 1024 blocks).
_CHUNK_BYTES = const(4032)
_TOP_UP_BYTES = const(1024)


def mount():
    # Mount the image at /flash and make it the working directory. Return
    # the block device.
    image = os.getenv("VBOARD_FLASH_IMAGE")
    if not image:
        raise OSError("VBOARD_FLASH_IMAGE is not set: the supervisor names the flash image")
    start = int(os.getenv("VBOARD_FLASH_OFFSET") or "0")
    size = int(os.getenv("VBOARD_FLASH_SIZE") or "0")
    if size <= 0 or size % BLOCK_SIZE:
        raise OSError("invalid VBOARD_FLASH_SIZE %r: a multiple of %d bytes" % (size, BLOCK_SIZE))
    device = FileBlockDevice(image, size // BLOCK_SIZE, start=start)
    try:
        filesystem = vfs.VfsLfs2(device)
    except OSError as error:
        # As the ESP32 port does at boot (inisetup.py): a partition that does
        # not mount is formatted, and the board starts with an empty flash.
        print("--- vboard: littlefs in %s does not mount (%r): formatting it" % (image, error))
        _vboard.log("flash.format", error=repr(error))
        vfs.VfsLfs2.mkfs(device)
        filesystem = vfs.VfsLfs2(device)
    vfs.mount(filesystem, MOUNT_POINT)
    os.chdir(MOUNT_POINT)
    sys.path.insert(0, MOUNT_POINT)
    return device


def free_blocks():
    return os.statvfs(MOUNT_POINT)[3]


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def apply_fault():
    # Flash full (inputs.json "flash_full": {"free_blocks": n}): fill the
    # file system until n blocks stay free. Without the fault, remove the
    # filler. Runs at every boot, before the firmware.
    fault = _vboard.inputs().get("flash_full")
    if fault:
        fill(int(fault.get("free_blocks", 0)))
    elif _exists(FILLER):
        os.remove(FILLER)
        _vboard.log("flash.freed", free_blocks=free_blocks())


def fill(keep_blocks):
    # Append to the filler until at most keep_blocks blocks are free, or the
    # file system is full (ENOSPC). Return the free block count.
    free = free_blocks()
    if free <= keep_blocks:
        return free
    try:
        with open(FILLER, "ab") as stream:
            chunk = bytes(_CHUNK_BYTES)
            # One block less than needed: the top-up below finds the end.
            # MicroPython's files have no writelines().
            for _ in range(free - keep_blocks - 1):  # noqa: FURB122
                stream.write(chunk)
        top_up = bytes(_TOP_UP_BYTES)
        while free_blocks() > keep_blocks:
            with open(FILLER, "ab") as stream:
                stream.write(top_up)
    except OSError as error:
        if error.errno != _ENOSPC:
            raise
    free = free_blocks()
    _vboard.log("flash.filled", free_blocks=free, filler_bytes=os.stat(FILLER)[6])
    return free

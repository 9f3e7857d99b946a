# Flash of the virtual board as a littlefs v2 image in a file: a block device
# with MicroPython's extended interface (readblocks/writeblocks with an
# offset, ioctl), which vfs.VfsLfs2 mounts as the ESP32 port mounts its
# flash partition. The factory writes the same image format with
# littlefs-python (block size 4096, see docs/hardware.md).
import os

from micropython import const

BLOCK_SIZE = const(4096)  # ESP32 flash erase sector
_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_SIZE = const(5)
_IOCTL_BLOCK_ERASE = const(6)
_ERASED = const(0xFF)


class FileBlockDevice:
    # block_count blocks of the file at path, from byte `start` on: a whole
    # image file (start 0) or a partition inside a flash dump (flash.bin).
    def __init__(self, path, block_count, block_size=BLOCK_SIZE, start=0):
        self.path = path
        self.block_size = block_size
        self.block_count = block_count
        self.start = start
        try:
            size = os.stat(path)[6]
        except OSError:
            size = 0
        end = start + block_size * block_count
        if size < end:
            # New or short: the missing flash reads as erased (0xFF). Bytes
            # already there, such as the image before a partition, stay.
            erased = bytes((_ERASED,)) * block_size
            with open(path, "ab") as stream:
                stream.write(erased[: (end - size) % block_size])
                # MicroPython's files have no writelines().
                for _ in range((end - size) // block_size):  # noqa: FURB122
                    stream.write(erased)
        self._file = open(path, "r+b")  # noqa: SIM115 - open as long as the file system is mounted

    def readblocks(self, block, buf, offset=0):
        self._file.seek(self.start + block * self.block_size + offset)
        self._file.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        # MicroPython's files on the unix port are unbuffered: each write is
        # one write(2), so a power cut (the process killed) loses nothing
        # that littlefs believes is on flash. flush() would add an fsync,
        # which guards only against a crash of the host.
        self._file.seek(self.start + block * self.block_size + (offset or 0))
        self._file.write(buf)

    def ioctl(self, operation, argument):
        if operation == _IOCTL_BLOCK_COUNT:
            return self.block_count
        if operation == _IOCTL_BLOCK_SIZE:
            return self.block_size
        if operation == _IOCTL_BLOCK_ERASE:
            self._file.seek(self.start + argument * self.block_size)
            self._file.write(bytes((_ERASED,)) * self.block_size)
            return 0
        # Init, deinit and sync (1, 2, 3) have nothing to do.
        return 0

    def close(self):
        self._file.close()

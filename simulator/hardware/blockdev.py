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
    def __init__(self, path, block_count, block_size=BLOCK_SIZE):
        self.path = path
        self.block_size = block_size
        self.block_count = block_count
        try:
            size = os.stat(path)[6]
        except OSError:
            size = -1
        if size != block_size * block_count:
            # A new or resized image: erased flash reads as 0xFF.
            erased = bytes((_ERASED,)) * block_size
            with open(path, "wb") as stream:
                # MicroPython's files have no writelines().
                for _ in range(block_count):  # noqa: FURB122
                    stream.write(erased)
        self._file = open(path, "r+b")  # noqa: SIM115 - open as long as the file system is mounted

    def readblocks(self, block, buf, offset=0):
        self._file.seek(block * self.block_size + offset)
        self._file.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        # Written at once (flush): a power cut, which kills the process,
        # loses nothing that littlefs believes is on flash.
        self._file.seek(block * self.block_size + (offset or 0))
        self._file.write(buf)
        self._file.flush()

    def ioctl(self, operation, argument):
        if operation == _IOCTL_BLOCK_COUNT:
            return self.block_count
        if operation == _IOCTL_BLOCK_SIZE:
            return self.block_size
        if operation == _IOCTL_BLOCK_ERASE:
            self._file.seek(argument * self.block_size)
            self._file.write(bytes((_ERASED,)) * self.block_size)
            self._file.flush()
            return 0
        return 0

    def close(self):
        self._file.close()

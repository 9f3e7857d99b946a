"""The virtual board's flash as a littlefs v2 image, read and changed from the host.

The image has the format the factory writes (`provisioning.image.build_vfs_image`,
littlefs-python): block size 4096 and the block count of the "vfs" partition
(`provisioning.layout`). At every boot MicroPython mounts it itself with
`vfs.VfsLfs2` on `simulator/hardware/blockdev.py` (see `simulator/hardware/_flash.py`).
The image is a whole file (a board's `flash.img`) or a partition inside a flash
dump (the serial board's `flash.bin`).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from littlefs import LittleFS, LittleFSError

from provisioning.layout import VFS_BLOCK_SIZE, VFS_SIZE

# The file that simulator/hardware/_flash.py writes for the flash-full fault.
FILLER = "vboard.fill"
_MOUNT_ATTEMPTS = 3
_MOUNT_RETRY_S = 0.05


class FlashImageError(RuntimeError):
    pass


@dataclass(frozen=True)
class FlashImage:
    """A littlefs image of `size` bytes at byte `offset` of the file `path`."""

    path: Path
    offset: int = 0
    size: int = VFS_SIZE

    @property
    def block_count(self) -> int:
        return self.size // VFS_BLOCK_SIZE

    def exists(self) -> bool:
        try:
            return self.path.stat().st_size >= self.offset + self.size
        except OSError:
            return False

    def create(self, files: dict[str, bytes], config: dict | None) -> None:
        """Write a new image with these files and config.json (none when config is None)."""
        # Imported here because provisioning.image imports simulator.vboard.
        from provisioning.image import build_vfs_image

        if self.size != VFS_SIZE:
            raise FlashImageError(
                f"the factory packs {VFS_SIZE}-byte images, not {self.size} bytes ({self.path})"
            )
        self._store(build_vfs_image(files, config))

    def update(self, files: dict[str, bytes]) -> None:
        """Write these files into the image, creating their folders; other files stay."""
        filesystem = self._mount()
        for name, data in sorted(files.items()):
            folder = name.rpartition("/")[0]
            if folder:
                filesystem.makedirs(folder, exist_ok=True)
            with filesystem.open(name, "wb") as stream:
                stream.write(data)
        self._store(bytes(filesystem.context.buffer))

    def read(self, name: str) -> bytes:
        """Return the content of a file of the image; FileNotFoundError when it has none."""
        filesystem = self._mount()
        try:
            with filesystem.open(name, "rb") as stream:
                return stream.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"no {name} on the flash image {self.path}") from None

    def files(self) -> list[str]:
        """Return the paths of every file in the image, sorted, without a leading slash."""
        filesystem = self._mount()
        found = []
        for root, _folders, names in filesystem.walk("/"):
            for name in names:
                found.append(f"{root.rstrip('/')}/{name}".lstrip("/"))
        return sorted(found)

    def used_blocks(self) -> int:
        return self._mount().used_block_count

    def _read_bytes(self) -> bytes:
        with self.path.open("rb") as stream:
            stream.seek(self.offset)
            return stream.read(self.size)

    def _mount(self) -> LittleFS:
        # NOTE: the host may read the image while the firmware writes it. A
        # copy taken between two block writes can fail to mount, so the read
        # is tried again. A file written at that moment can still read as
        # its previous version.
        error: LittleFSError | None = None
        for attempt in range(_MOUNT_ATTEMPTS):
            if attempt:
                time.sleep(_MOUNT_RETRY_S)
            try:
                data = self._read_bytes()
            except FileNotFoundError:
                raise FlashImageError(f"no flash image {self.path}: install the board first") from None
            filesystem = LittleFS(
                block_size=VFS_BLOCK_SIZE, block_count=self.block_count, mount=False
            )
            filesystem.context.buffer = bytearray(data.ljust(self.size, b"\xff"))
            try:
                filesystem.mount()
            except LittleFSError as failure:
                error = failure
                continue
            return filesystem
        raise FlashImageError(
            f"the littlefs image in {self.path} (offset {self.offset}) does not mount: {error}"
        )

    def _store(self, image: bytes) -> None:
        if self.offset:
            # A partition inside a flash dump: the bytes around it stay.
            with self.path.open("r+b") as stream:
                stream.seek(self.offset)
                stream.write(image)
            return
        # A whole-file image is replaced at once, so a crash of the host
        # leaves the old image or the new one.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_bytes(image)
        temporary.replace(self.path)

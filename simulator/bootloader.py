"""The ESP32-S3 serial ROM bootloader protocol, emulated for the virtual board.

Enough of the ROM loader for `esptool --no-stub` to detect the chip, write
(plain or deflate-compressed) and verify flash. Packets are SLIP-framed:

    request   00 op len:u16 checksum:u32 data
    response  01 op len:u16 value:u32 data status(4 bytes: error, reason, 0, 0)

The byte layouts follow esptool 5 (esptool/loader.py, esptool/targets/esp32s3.py).
Commands the ROM has but this emulation does not (MEM_* for uploading the
flasher stub, READ_FLASH_SLOW, the secure download commands) get the ROM's
"invalid message" reply, as on a chip that lacks them.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

SLIP_END = 0xC0
SLIP_ESC = 0xDB
SLIP_ESC_END = 0xDC
SLIP_ESC_ESC = 0xDD

# Command codes of the ROM loader (esptool ESPLoader.ESP_CMDS).
FLASH_BEGIN = 0x02
FLASH_DATA = 0x03
FLASH_END = 0x04
SYNC = 0x08
WRITE_REG = 0x09
READ_REG = 0x0A
SPI_SET_PARAMS = 0x0B
SPI_ATTACH = 0x0D
CHANGE_BAUDRATE = 0x0F
FLASH_DEFL_BEGIN = 0x10
FLASH_DEFL_DATA = 0x11
FLASH_DEFL_END = 0x12
SPI_FLASH_MD5 = 0x13
GET_SECURITY_INFO = 0x14

# Error reasons of the ROM loader (second status byte).
ERROR_INVALID_MESSAGE = 0x05
ERROR_FAILED = 0x06
ERROR_INVALID_CRC = 0x07
ERROR_FLASH_WRITE = 0x08
ERROR_DEFLATE = 0x0B

CHECKSUM_SEED = 0xEF
# Value field of the ROM's SYNC replies; esptool only needs it non-zero (a
# zero value means the flasher stub answered).
SYNC_VALUE = 0x20120707

CHIP_DETECT_MAGIC_REG = 0x40001000
# ESP32-S3: chip id 9 in GET_SECURITY_INFO. Classic ESP32: no such command,
# magic value 0x00F01D83 at CHIP_DETECT_MAGIC_REG.
CHIP_IDS = {"esp32s3": 9}
CHIP_MAGIC = {"esp32": 0x00F01D83}
MAC_EFUSE_REG = 0x60007044
SPI_CMD_REG = 0x60002000
SPI_W0_REG = 0x60002058
# JEDEC id of a 4 MiB Winbond W25Q32 flash chip (manufacturer 0xEF, capacity 0x16).
FLASH_JEDEC_ID = 0x1640EF
FLASH_SIZE = 4 * 1024 * 1024
FLASH_SECTOR = 4096


def slip_encode(packet: bytes) -> bytes:
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class SlipDecoder:
    """Collect SLIP frames from a byte stream; bytes outside frames are returned apart."""

    def __init__(self) -> None:
        self._frame: bytearray | None = None
        self._escape = False

    @property
    def in_frame(self) -> bool:
        return self._frame is not None

    def feed(self, data: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        outside = bytearray()
        for byte in data:
            if self._frame is None:
                if byte == SLIP_END:
                    self._frame = bytearray()
                else:
                    outside.append(byte)
                continue
            if self._escape:
                self._escape = False
                self._frame.append(SLIP_END if byte == SLIP_ESC_END else SLIP_ESC)
            elif byte == SLIP_ESC:
                self._escape = True
            elif byte == SLIP_END:
                if self._frame:
                    frames.append(bytes(self._frame))
                    self._frame = None
                # An empty frame is the start marker right after an end marker.
            else:
                self._frame.append(byte)
        return frames, bytes(outside)


def checksum(data: bytes) -> int:
    value = CHECKSUM_SEED
    for byte in data:
        value ^= byte
    return value


@dataclass
class FlashWrite:
    offset: int
    size: int
    compressed: bool
    written: int = 0
    next_sequence: int = 0
    inflater: zlib._Decompress | None = None  # type: ignore[name-defined]


@dataclass
class RomLoader:
    """The ROM loader of one chip, writing to a flash image file.

    `faults` names failures to inject, read from the board's faults.json:
    "flash_write" makes every FLASH_DATA fail as a broken flash chip would.
    """

    flash_path: Path
    chip: str = "esp32s3"
    mac: bytes = b"\x7c\xdf\xa1\x00\x00\x01"
    faults_path: Path | None = None
    registers: dict[int, int] = field(default_factory=dict)
    written_regions: list[tuple[int, int]] = field(default_factory=list)
    reboot_requested: bool = False
    _write: FlashWrite | None = None

    def __post_init__(self) -> None:
        if not self.flash_path.exists() or self.flash_path.stat().st_size != FLASH_SIZE:
            self.flash_path.write_bytes(b"\xff" * FLASH_SIZE)

    # Framing

    def handle_frame(self, frame: bytes) -> list[bytes]:
        """Return the SLIP-encoded replies to one request frame."""
        if len(frame) < 8 or frame[0] != 0x00:
            return []
        _, op, length, check = struct.unpack("<BBHI", frame[:8])
        data = frame[8:8 + length]
        if op == SYNC:
            # The ROM answers a SYNC with eight replies.
            return [self._reply(op, SYNC_VALUE) for _ in range(8)]
        handler = self._handlers().get(op)
        if handler is None:
            return [self._reply(op, 0, error=ERROR_INVALID_MESSAGE)]
        return [handler(op, data, check)]

    def _handlers(self):
        handlers = {
            FLASH_BEGIN: self._flash_begin,
            FLASH_DATA: self._flash_data,
            FLASH_END: self._flash_end,
            WRITE_REG: self._write_reg,
            READ_REG: self._read_reg,
            SPI_SET_PARAMS: self._accept,
            SPI_ATTACH: self._accept,
            CHANGE_BAUDRATE: self._accept,
            FLASH_DEFL_BEGIN: self._flash_begin,
            FLASH_DEFL_DATA: self._flash_data,
            FLASH_DEFL_END: self._flash_end,
            SPI_FLASH_MD5: self._flash_md5,
        }
        if self.chip in CHIP_IDS:
            handlers[GET_SECURITY_INFO] = self._security_info
        return handlers

    @staticmethod
    def _reply(op: int, value: int = 0, data: bytes = b"", error: int = 0) -> bytes:
        status = bytes([1, error, 0, 0]) if error else bytes(4)
        body = data + status
        return slip_encode(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _faults(self) -> set[str]:
        if self.faults_path is None:
            return set()
        try:
            return set(json.loads(self.faults_path.read_text()))
        except (OSError, ValueError):
            return set()

    # Commands

    def _accept(self, op: int, data: bytes, check: int) -> bytes:
        return self._reply(op)

    def _security_info(self, op: int, data: bytes, check: int) -> bytes:
        # flags:u32, flash_crypt_cnt:u8, key_purposes:7 bytes, chip_id:u32, api_version:u32
        info = struct.pack("<IB7sII", 0, 0, bytes(7), CHIP_IDS[self.chip], 0)
        return self._reply(op, data=info)

    def _read_reg(self, op: int, data: bytes, check: int) -> bytes:
        (address,) = struct.unpack("<I", data[:4])
        return self._reply(op, self._register(address))

    def _register(self, address: int) -> int:
        if address == CHIP_DETECT_MAGIC_REG and self.chip in CHIP_MAGIC:
            return CHIP_MAGIC[self.chip]
        if address == MAC_EFUSE_REG:
            return struct.unpack(">I", self.mac[2:6])[0]
        if address == MAC_EFUSE_REG + 4:
            return struct.unpack(">H", self.mac[0:2])[0]
        if address == SPI_CMD_REG:
            # The SPI command has finished as soon as it was written.
            return 0
        if address == SPI_W0_REG:
            return FLASH_JEDEC_ID
        return self.registers.get(address, 0)

    def _write_reg(self, op: int, data: bytes, check: int) -> bytes:
        address, value, mask, _delay = struct.unpack("<IIII", data[:16])
        old = self.registers.get(address, 0)
        self.registers[address] = (old & ~mask) | (value & mask) if mask != 0xFFFFFFFF else value
        return self._reply(op)

    def _flash_begin(self, op: int, data: bytes, check: int) -> bytes:
        size, _blocks, _block_size, offset = struct.unpack("<IIII", data[:16])
        if offset + size > FLASH_SIZE:
            return self._reply(op, error=ERROR_FAILED)
        compressed = op == FLASH_DEFL_BEGIN
        self._write = FlashWrite(
            offset, size, compressed, inflater=zlib.decompressobj() if compressed else None
        )
        # The ROM erases whole sectors before writing.
        erase_start = offset - offset % FLASH_SECTOR
        erase_end = -(-(offset + size) // FLASH_SECTOR) * FLASH_SECTOR
        if size:
            with self.flash_path.open("r+b") as flash:
                flash.seek(erase_start)
                flash.write(b"\xff" * (erase_end - erase_start))
        return self._reply(op)

    def _flash_data(self, op: int, data: bytes, check: int) -> bytes:
        write = self._write
        if write is None or write.compressed != (op == FLASH_DEFL_DATA):
            return self._reply(op, error=ERROR_FAILED)
        length, sequence, _, _ = struct.unpack("<IIII", data[:16])
        block = data[16:16 + length]
        if len(block) != length or checksum(block) != check & 0xFF:
            return self._reply(op, error=ERROR_INVALID_CRC)
        if sequence != write.next_sequence:
            return self._reply(op, error=ERROR_FAILED)
        if "flash_write" in self._faults():
            return self._reply(op, error=ERROR_FLASH_WRITE)
        if write.inflater is not None:
            try:
                block = write.inflater.decompress(block)
            except zlib.error:
                return self._reply(op, error=ERROR_DEFLATE)
        # Uncompressed writes are padded to the block size; keep only the declared size.
        block = block[: max(0, write.size - write.written)]
        with self.flash_path.open("r+b") as flash:
            flash.seek(write.offset + write.written)
            flash.write(block)
        write.written += len(block)
        write.next_sequence += 1
        return self._reply(op)

    def _flash_end(self, op: int, data: bytes, check: int) -> bytes:
        write = self._write
        if write is not None and write.written:
            self.written_regions.append((write.offset, write.written))
        self._write = None
        # The ROM leaves the loader after FLASH_END: flag 0 reboots the chip,
        # flag 1 jumps into the application. Both boot the firmware here,
        # which is why esptool sends no FLASH_END to the ROM after writing.
        self.reboot_requested = True
        return self._reply(op)

    def _flash_md5(self, op: int, data: bytes, check: int) -> bytes:
        address, size = struct.unpack("<II", data[:8])
        if address + size > FLASH_SIZE:
            return self._reply(op, error=ERROR_FAILED)
        with self.flash_path.open("rb") as flash:
            flash.seek(address)
            digest = hashlib.md5(flash.read(size)).hexdigest().encode("ascii")
        # The ROM sends the digest as 32 ASCII hex digits; the stub sends 16 raw bytes.
        return self._reply(op, data=digest)

"""The emulated ROM bootloader on the exact bytes esptool sends and expects."""

from __future__ import annotations

import hashlib
import struct
import zlib

from simulator.bootloader import (
    FLASH_BEGIN,
    FLASH_DATA,
    FLASH_DEFL_BEGIN,
    FLASH_DEFL_DATA,
    FLASH_END,
    READ_REG,
    SPI_FLASH_MD5,
    SYNC,
    RomLoader,
    SlipDecoder,
    checksum,
    slip_encode,
)


def request(op: int, data: bytes, check: int = 0) -> bytes:
    return struct.pack("<BBHI", 0, op, len(data), check) + data


def reply(loader: RomLoader, frame: bytes) -> tuple[int, int, bytes]:
    encoded, = loader.handle_frame(frame)
    frames, outside = SlipDecoder().feed(encoded)
    assert outside == b""
    direction, op, length, value = struct.unpack("<BBHI", frames[0][:8])
    assert direction == 1
    return op, value, frames[0][8:8 + length]


def test_slip_round_trip_with_escapes():
    packet = b"\x00\xc0\xdb\x01\xc0"

    frames, outside = SlipDecoder().feed(b"\x03" + slip_encode(packet) + b"\x02")

    assert frames == [packet]
    assert outside == b"\x03\x02"


def test_sync_gets_eight_replies(tmp_path):
    loader = RomLoader(tmp_path / "flash.bin")

    replies = loader.handle_frame(request(SYNC, b"\x07\x07\x12\x20" + 32 * b"\x55"))

    assert len(replies) == 8


def test_esp32_magic_register(tmp_path):
    loader = RomLoader(tmp_path / "flash.bin", chip="esp32")

    _, value, status = reply(loader, request(READ_REG, struct.pack("<I", 0x40001000)))

    assert value == 0x00F01D83
    assert status == bytes(4)


def test_flash_data_bad_checksum_rejected(tmp_path):
    loader = RomLoader(tmp_path / "flash.bin")
    block = b"\x11" * 16
    reply(loader, request(FLASH_BEGIN, struct.pack("<IIIII", 16, 1, 16, 0x1000, 0)))

    _, _, status = reply(loader, request(FLASH_DATA, struct.pack("<IIII", 16, 0, 0, 0) + block,
                                         checksum(block) ^ 1))

    assert status[:2] == b"\x01\x07"


def test_deflated_write_then_md5(tmp_path):
    loader = RomLoader(tmp_path / "flash.bin")
    data = bytes(range(256)) * 64
    compressed = zlib.compress(data, 9)
    reply(loader, request(FLASH_DEFL_BEGIN, struct.pack("<IIIII", len(data), 1, 0x400, 0x2000, 0)))

    _, _, status = reply(loader, request(
        FLASH_DEFL_DATA, struct.pack("<IIII", len(compressed), 0, 0, 0) + compressed,
        checksum(compressed)))
    _, _, md5 = reply(loader, request(SPI_FLASH_MD5, struct.pack("<IIII", 0x2000, len(data), 0, 0)))

    assert status == bytes(4)
    assert md5[:32].decode() == hashlib.md5(data).hexdigest()


def test_flash_end_boots_firmware(tmp_path):
    loader = RomLoader(tmp_path / "flash.bin")

    reply(loader, request(FLASH_END, struct.pack("<I", 1)))

    assert loader.reboot_requested


def test_unknown_command_gets_invalid_message(tmp_path):
    loader = RomLoader(tmp_path / "flash.bin")

    _, _, status = reply(loader, request(0x05, bytes(16)))  # MEM_BEGIN: the stub upload

    assert status[:2] == b"\x01\x05"

"""Images the station writes: the MicroPython image (checked) and the application's littlefs image."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from littlefs import LittleFS

from provisioning.errors import StationError
from provisioning.layout import ESP_IMAGE_MAGIC, VFS_BLOCK_SIZE, VFS_SIZE
from simulator.upython import mpy_cross_executable
from simulator.vboard import FIRMWARE_DIR, firmware_files

# Files that MicroPython runs as source after a reset; every other module is compiled.
SOURCE_MODULES = {"main.py", "boot.py"}
# ESP32-S3 chip id in the extended header of an ESP application image.
ESP32S3_IMAGE_CHIP_ID = 9


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_sha256(image: Path, given: str | None) -> str:
    """Return the SHA-256 the image must have: the one given, else the manifest's.

    The manifest is `<image>.sha256` next to the image, in the format of
    sha256sum ("<hex digest>  <file name>").
    """
    if given:
        return given.strip().lower()
    manifest = image.with_name(image.name + ".sha256")
    try:
        text = manifest.read_text().split()
    except OSError:
        raise StationError(
            "no_checksum", image=str(image), manifest=str(manifest)
        ) from None
    if not text:
        raise StationError("no_checksum", image=str(image), manifest=str(manifest))
    return text[0].lower()


def check_micropython_image(image: Path, given_sha256: str | None) -> str:
    """Check the image's checksum and header before anything is written; return its SHA-256."""
    if not image.is_file():
        raise StationError("image_missing", image=str(image))
    expected = expected_sha256(image, given_sha256)
    actual = sha256_file(image)
    if actual != expected:
        raise StationError("checksum_mismatch", image=str(image), expected=expected, actual=actual)
    with image.open("rb") as stream:
        header = stream.read(16)
    if len(header) < 16 or header[0] != ESP_IMAGE_MAGIC:
        raise StationError("image_not_esp", image=str(image))
    chip_id = struct.unpack_from("<H", header, 12)[0]
    if chip_id != ESP32S3_IMAGE_CHIP_ID:
        raise StationError("image_wrong_chip", image=str(image), chip_id=chip_id)
    return actual


def write_test_micropython_image(path: Path, size: int = 64 * 1024) -> Path:
    """Write a stand-in for the MicroPython ESP32-S3 image, with its .sha256 manifest.

    NOTE: a test file, not MicroPython: an ESP image header for the ESP32-S3
    (magic 0xE9, chip id 9) followed by a deterministic filler. The virtual
    board only checks the header; the interpreter it runs is the unix port.
    """
    header = bytearray(24)
    header[0] = ESP_IMAGE_MAGIC
    header[1] = 0  # segment count
    header[2] = 2  # SPI mode DIO
    header[3] = 0x20  # 4 MiB flash, 40 MHz
    struct.pack_into("<H", header, 12, ESP32S3_IMAGE_CHIP_ID)
    filler = hashlib.sha256(b"ikki stand-in for the MicroPython image").digest()
    body = (b"IKKI-TEST-IMAGE-NOT-MICROPYTHON\n" + filler) * (size // 64)
    data = bytes(header) + body[: size - len(header)]
    path.write_bytes(data)
    path.with_name(path.name + ".sha256").write_text(
        f"{hashlib.sha256(data).hexdigest()}  {path.name}\n"
    )
    return path


def compile_module(source: Path, relative: Path) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ikki-mpy-") as temporary:
        output = Path(temporary) / "module.mpy"
        result = subprocess.run(
            [str(mpy_cross_executable()), "-o", str(output), "-s", str(relative), str(source)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise StationError("compile_failed", module=str(relative),
                               detail=result.stderr.strip()[:300])
        return output.read_bytes()


def _compiled(source: Path, relative: Path, cache_dir: Path | None) -> bytes:
    if cache_dir is None:
        return compile_module(source, relative)
    # One cache entry per source text, module name and mpy-cross build.
    digest = hashlib.sha256(source.read_bytes() + str(relative).encode()
                            + str(mpy_cross_executable().stat().st_mtime_ns).encode()).hexdigest()
    cached = cache_dir / f"{digest}.mpy"
    if cached.exists():
        return cached.read_bytes()
    data = compile_module(source, relative)
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(cached)
    return data


def application_files(firmware_dir: Path = FIRMWARE_DIR, cache_dir: Path | None = None
                      ) -> dict[str, bytes]:
    """Return the firmware files as they go on flash: modules compiled with mpy-cross.

    Modules compile in parallel; with cache_dir, a module already compiled from
    the same source by the same mpy-cross is read from there.
    """
    files: dict[str, bytes] = {}
    jobs = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for relative in firmware_files(firmware_dir):
            source = firmware_dir / relative
            if relative.suffix == ".py" and relative.name not in SOURCE_MODULES:
                jobs[str(relative.with_suffix(".mpy"))] = pool.submit(
                    _compiled, source, relative, cache_dir)
            else:
                files[str(relative)] = source.read_bytes()
        for name, job in jobs.items():
            files[name] = job.result()
    return dict(sorted(files.items()))


def build_vfs_image(files: dict[str, bytes], config: dict[str, Any] | None) -> bytes:
    """Pack the application files and the device's config.json into a littlefs v2 partition image.

    With config None the image has no config.json: an unprovisioned device.
    """
    filesystem = LittleFS(block_size=VFS_BLOCK_SIZE, block_count=VFS_SIZE // VFS_BLOCK_SIZE)
    everything = dict(files)
    if config is not None:
        everything["config.json"] = json.dumps(config, indent=1, sort_keys=True).encode()
    for name in sorted(everything):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            try:
                filesystem.mkdir(folder)
            except FileExistsError:
                pass
        with filesystem.open(name, "wb") as stream:
            stream.write(everything[name])
    return bytes(filesystem.context.buffer)

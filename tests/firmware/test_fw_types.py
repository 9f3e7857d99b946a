"""The firmware type-checks against the MicroPython ESP32 stubs from PyPI.

micropython-esp32-stubs installs its .pyi files straight into site-packages
and micropython-stdlib-stubs a typeshed tree (stdlib/, _mpy_shed/). mypy
reads the ESP32 modules (machine, esp32, network, ...) from a folder that
holds only that package's files, and the standard library from the
MicroPython typeshed, so no CPython module can satisfy a firmware import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from simulator.vboard import FIRMWARE_DIR

STUB_PACKAGES = ("micropython-esp32-stubs", "micropython-stdlib-stubs")
HINT = "install the dev dependencies with `uv sync` (micropython-esp32-stubs, mypy)"
# Errors inside the stub files themselves (redefinitions, abstract
# classes) are the stubs' business, not the firmware's.
MYPY_CONFIG = """
[mypy]
python_version = 3.11
explicit_package_bases = True
no_site_packages = True
warn_unused_ignores = True
check_untyped_defs = True

[mypy-machine,network,esp32,vfs,hashlib,time,socket,micropython,_mpy_shed.*]
ignore_errors = True
"""


def _stub_files(package: str) -> tuple[Path, list[Path]]:
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{package} is not installed: {HINT}")
    root = Path(str(distribution.locate_file("")))
    files = [Path(str(item)) for item in distribution.files or [] if str(item).endswith(".pyi")]
    return root, files


def _stub_tree(target: Path) -> Path:
    esp32_root, esp32_files = _stub_files("micropython-esp32-stubs")
    for relative in esp32_files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(esp32_root / relative, destination)
    stdlib_root, stdlib_files = _stub_files("micropython-stdlib-stubs")
    for relative in stdlib_files:
        if relative.parts[0] == "_mpy_shed":
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(stdlib_root / relative, destination)
    return stdlib_root


def test_firmware_passes_mypy_with_esp32_stubs(tmp_path: Path):
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip(f"mypy was not found: {HINT}")
    stubs = tmp_path / "stubs"
    typeshed = _stub_tree(stubs)
    config = tmp_path / "mypy.ini"
    config.write_text(MYPY_CONFIG)
    modules = sorted(
        str(path.relative_to(FIRMWARE_DIR))
        for path in FIRMWARE_DIR.rglob("*.py")
        if "tools" not in path.relative_to(FIRMWARE_DIR).parts
    )

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "mypy"),
            "--config-file",
            str(config),
            "--custom-typeshed-dir",
            str(typeshed),
            "--cache-dir",
            str(tmp_path / "cache"),
            *modules,
        ],
        cwd=FIRMWARE_DIR,
        env={"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout

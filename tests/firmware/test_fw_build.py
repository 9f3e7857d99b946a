"""Every firmware module compiles with mpy-cross and follows the device code rules."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from simulator.upython import MicroPythonMissing, mpy_cross_executable
from simulator.vboard import FIRMWARE_DIR, firmware_files

MODULES = [path for path in firmware_files() if path.suffix == ".py"]


@pytest.fixture(scope="module")
def mpy_cross() -> Path:
    try:
        return mpy_cross_executable()
    except MicroPythonMissing as error:
        pytest.skip(str(error))


def test_firmware_files_include_application_and_sound():
    names = {str(path) for path in firmware_files()}

    assert {"main.py", "app.py", "board.py", "boards/esp32s3_ref.py", "cry.pcm"} <= names
    assert not any(name.startswith("tools/") for name in names)


@pytest.mark.parametrize("module", MODULES, ids=[str(path) for path in MODULES])
@pytest.mark.parametrize("architecture", [None, "xtensawin"], ids=["bytecode", "esp32s3"])
def test_module_compiles_with_mpy_cross(
    mpy_cross: Path, tmp_path: Path, module: Path, architecture: str | None
):
    output = tmp_path / module.with_suffix(".mpy").name
    command = [str(mpy_cross), "-o", str(output)]
    if architecture:
        command.append(f"-march={architecture}")
    command.append(str(FIRMWARE_DIR / module))

    result = subprocess.run(command, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    assert output.stat().st_size > 0


@pytest.mark.parametrize("module", MODULES, ids=[str(path) for path in MODULES])
def test_module_has_no_assert_or_bare_except(module: Path):
    # MicroPython can compile asserts out (-O), and a bare except also
    # catches the SystemExit and KeyboardInterrupt the board relies on.
    tree = ast.parse((FIRMWARE_DIR / module).read_text())

    asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    bare_excepts = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and node.type is None
    ]
    assert asserts == [], f"assert statements in {module} at lines {asserts}"
    assert bare_excepts == [], f"bare except in {module} at lines {bare_excepts}"

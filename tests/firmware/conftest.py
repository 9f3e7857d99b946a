"""Fixtures for firmware tests: they run on the MicroPython unix port, not on CPython."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.brokers import MOSQUITTO_HINT, mosquitto_binary
from simulator.upython import MicroPythonMissing, micropython_executable, run_micropython
from simulator.vboard import FIRMWARE_DIR

RunMicroPython = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def micropython_available() -> None:
    try:
        micropython_executable()
    except MicroPythonMissing as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def mosquitto_available() -> None:
    if mosquitto_binary() is None:
        pytest.skip(f"mosquitto was not found: {MOSQUITTO_HINT}")


@pytest.fixture
def run_firmware_script(micropython_available: None, tmp_path: Path) -> RunMicroPython:
    """Return a runner of MicroPython source with the firmware modules importable.

    The script runs in tmp_path/flash, which stands for the device's flash;
    a run that exits non-zero fails the test with its output.
    """
    flash = tmp_path / "flash"
    flash.mkdir(exist_ok=True)

    def run(
        source: str, *, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        script = flash / "test_script.py"
        script.write_text(textwrap.dedent(source))
        result = run_micropython(script.name, cwd=flash, path=[FIRMWARE_DIR], timeout=timeout)
        if check and result.returncode != 0:
            pytest.fail(
                f"MicroPython exited with {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run

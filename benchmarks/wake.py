"""Time the sticker's wake-up: from the light edge to the first audio buffer handed to I2S.

Runs the real firmware (firmware/) on the MicroPython unix port as the virtual board does,
booted as after a deep sleep in the armed state with wake reason PIN_WAKE and light on the
sensor. The light edge is the firmware's first statement after that reset (on the ESP32-S3
the chip's own boot, about the ROM and bootloader time, comes before it and is not
measured here). The cry then plays, the envelope closes, the "opened" and "armed" events
are published to a Mosquitto broker and the firmware goes back to deep sleep, after which
the peak MicroPython heap of the whole cycle (micropython.mem_peak) is printed.

Each run is done with the modules as source (.py, compiled at import as in development)
and as mpy-cross bytecode (.mpy, as the factory flashes them). The baseline is an empty
MicroPython loop of 10,000 iterations timed in the same interpreter, so the ratio
carries over to other machines. debounce_ms is 0 here: on the device the debounce (200 ms
by default) comes on top, by design.

    uv run python benchmarks/wake.py [--runs 5]

Set IKKI_MICROPYTHON to the path of another unix-port build, such as a 32-bit one whose
objects take the sizes they take on the ESP32, to measure with it instead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.brokers import MosquittoBroker, mosquitto_binary
from simulator.events import mqtt_password
from simulator.upython import micropython_command, mpy_cross_executable
from simulator.vboard import (
    DEFAULT_HEAP_SIZE,
    LIGHT_CLOSED,
    LIGHT_OPEN,
    VirtualBoard,
    make_config,
)

DEVICE_ID = "stk-bench-wake"
KEY = bytes(range(32))
BASELINE_LOOPS = 10_000
# Light lasts this long after the first sound, then the envelope closes.
CRY_S = 0.3
# The simulated I2S queue (simulator/hardware/machine.py): ibuf of 8000 bytes
# plus 4096 bytes of slack, rounded to frames. It lives on the heap.
SIMULATED_I2S_RING = 12096

# Runs in the board's flash directory instead of main.py. The clock starts at
# its first statement; machine.I2S.write is wrapped to stop it.
WRAPPER = """
import time
import gc
import json
import micropython
import sys
# Built into the ESP32 firmware, so imported before the clock starts: the
# simulated modules are Python source that the unix port compiles first.
import _vboard
import esp32
import machine
import network

marks = {}
_write = machine.I2S.write
_init = machine.I2S.__init__

def _timed_init(self, *args, **kwargs):
    begun = time.ticks_us()
    _init(self, *args, **kwargs)
    marks["sim_i2s_init_us"] = time.ticks_diff(time.ticks_us(), begun)

def _timed_write(self, buf):
    if "first_write_us" not in marks:
        marks["first_write_us"] = time.ticks_diff(time.ticks_us(), started_us)
    marks["writes"] = marks.get("writes", 0) + 1
    if marks["writes"] == 8:
        # Mid-cry, after the opened event went out: what is alive then.
        gc.collect()
        marks["live_cry"] = gc.mem_alloc()
    return _write(self, buf)

machine.I2S.__init__ = _timed_init
machine.I2S.write = _timed_write
gc.collect()
marks["live_simulation"] = gc.mem_alloc()
started_us = time.ticks_us()
import app
try:
    app.main()
except SystemExit as leaving:
    marks["exit"] = leaving.args[0] if leaving.args else 0
    marks["awake_us"] = time.ticks_diff(time.ticks_us(), started_us)

begun = time.ticks_us()
for _ in range(BASELINE_LOOPS):
    pass
marks["baseline_us"] = time.ticks_diff(time.ticks_us(), begun)
marks["mem_peak"] = micropython.mem_peak()
marks["heap"] = gc.mem_alloc() + gc.mem_free()
gc.collect()
marks["mem_free"] = gc.mem_free()
print("BENCH " + json.dumps(marks))
""".replace("BASELINE_LOOPS", str(BASELINE_LOOPS))


def prepare_board(directory: Path, port: int, compiled: bool) -> VirtualBoard:
    config = make_config(
        DEVICE_ID, KEY.hex(), mqtt_port=port, debounce_ms=0, arm_delay_s=0, cry_max_s=2,
        cry_stop_dark_s=0.1, heartbeat_s=0, retry_min_s=0.2, retry_max_s=1,
    )
    board = VirtualBoard(directory, config)
    board.install()
    if compiled:
        for source in sorted(board.flash_dir.rglob("*.py")):
            if source.name == "main.py":
                continue
            subprocess.run([str(mpy_cross_executable()), str(source)], check=True)
            source.unlink()
    (board.flash_dir / "bench.py").write_text(WRAPPER)
    return board


def run_once(board: VirtualBoard, sequence: int, heap_size: str = DEFAULT_HEAP_SIZE) -> dict:
    # Armed deep sleep before this boot: RTC memory holds the state.
    (board.directory / "rtc_memory.bin").write_text(
        json.dumps({"st": "armed", "rs": 1, "sq": sequence, "fails": 0})
    )
    (board.directory / "boot.json").write_text(
        json.dumps({"reset_cause": 4, "wake_reason": 2, "boot": sequence})
    )
    board.set_light(LIGHT_OPEN)
    log_size = board.hardware_log_path.stat().st_size if board.hardware_log_path.exists() else 0

    def close_after_first_write() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with board.hardware_log_path.open() as stream:
                    stream.seek(log_size)
                    if '"i2s.first_write"' in stream.read():
                        break
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        time.sleep(CRY_S)
        board.set_light(LIGHT_CLOSED)

    closer = threading.Thread(target=close_after_first_write)
    closer.start()
    result = subprocess.run(
        micropython_command("bench.py", heap_size=heap_size),
        cwd=board.flash_dir,
        env=board.firmware_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    closer.join()
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            marks = json.loads(line[6:])
            if "first_write_us" not in marks or marks.get("exit") != 86:
                raise RuntimeError(f"the firmware did not cry and sleep:\n{result.stdout[-3000:]}")
            if "event.delivered" not in result.stdout:
                raise RuntimeError(f"no event was delivered:\n{result.stdout[-3000:]}")
            return marks
    raise RuntimeError(f"no result from the firmware:\n{result.stdout[-3000:]}{result.stderr}")


def smallest_heap_kib(board: VirtualBoard, low: int = 16, high: int = 256) -> int:
    # Bisect the smallest heap, in KiB steps of 4, in which the whole cycle
    # runs (cry, publish, deep sleep) without a MemoryError.
    while high - low > 4:
        middle = (low + high) // 2 // 4 * 4
        try:
            run_once(board, 900 + middle, heap_size=f"{middle}K")
            high = middle
        except RuntimeError:
            low = middle
    return high


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per module format")
    arguments = parser.parse_args()
    if mosquitto_binary() is None:
        print("wake.py: mosquitto was not found: install the Debian package mosquitto", file=sys.stderr)
        return 1

    workdir = Path(tempfile.mkdtemp(prefix="ikki-wake-"))
    print(f"machine: {cpu_model()}, {len(Path('/proc/cpuinfo').read_text().split('processor')) - 1} cores")
    try:
        with MosquittoBroker(users={DEVICE_ID: mqtt_password(KEY)}, workdir=workdir / "mqtt") as broker:
            for compiled in (False, True):
                label = ".mpy" if compiled else ".py"
                board = prepare_board(workdir / label.strip("."), broker.port, compiled)
                runs = [run_once(board, 100 + 20 * index) for index in range(arguments.runs)]
                wake_ms = statistics.median(run["first_write_us"] for run in runs) / 1000
                fastest_ms = min(run["first_write_us"] for run in runs) / 1000
                init_ms = statistics.median(run["sim_i2s_init_us"] for run in runs) / 1000
                base_ms = statistics.median(run["baseline_us"] for run in runs) / 1000
                awake_ms = statistics.median(run["awake_us"] for run in runs) / 1000
                live = max(run["live_cry"] for run in runs)
                simulation = max(run["live_simulation"] for run in runs)
                peak = max(run["mem_peak"] for run in runs)
                smallest = smallest_heap_kib(board)
                print(
                    f"{label:5} light edge to first I2S buffer: median {wake_ms:6.2f} ms, fastest {fastest_ms:6.2f} ms "
                    f"(simulated I2S set-up {init_ms:4.2f} ms of it) over {len(runs)} runs; "
                    f"empty loop of {BASELINE_LOOPS}: {base_ms:4.2f} ms; ratio {wake_ms / base_ms:5.1f}"
                )
                print(
                    f"{label:5} awake from the light edge to deep sleep: median {awake_ms:6.0f} ms "
                    f"(cry of {CRY_S} s, opened and armed events published over Wi-Fi to a local broker)"
                )
                print(
                    f"{label:5} heap: live during the cry {live / 1024:5.1f} KiB, of which "
                    f"simulated modules {simulation / 1024:4.1f} KiB and simulated I2S ring "
                    f"{SIMULATED_I2S_RING / 1024:4.1f} KiB; "
                    f"smallest heap that runs the cycle {smallest} KiB; "
                    f"mem_peak {peak / 1024:5.1f} KiB (counts garbage until collected)"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Factory station throughput on virtual boards, against a bare esptool write of the same images.

The script starts the web app (uvicorn, SQLite, a factory token) and an amqtt
broker on 127.0.0.1, then runs two batches of N virtual boards on ptys, each
board in its own process:

- baseline: `esptool write-flash` of the stand-in MicroPython image and an
  application littlefs image, the same command the station runs, nothing else;
- station: `ikki station provision` as an operator runs it (identity read,
  the same esptool write, self-test through the REPL, registration, label).
  The compiled modules are already in the station's mpy-cache, as on a
  station after its first batch of the day; the script prints how long the
  compilation took on its own.

It prints seconds per device, devices per hour and the station's time over the
baseline's. Both figures are wall-clock times of a batch divided by N.

    uv run python benchmarks/factory.py [--boards 4]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from click.testing import CliRunner

from backend.core import db as core_db
from backend.core.settings import Settings, get_settings
from provisioning.flashing import reset_mode
from provisioning.image import application_files, build_vfs_image, write_test_micropython_image
from provisioning.layout import VFS_OFFSET
from simulator.brokers import AmqttBroker
from simulator.serial_port import SerialBoard

TOKEN = "benchmark-factory-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(directory: Path, broker_port: int) -> tuple[uvicorn.Server, str]:
    settings = Settings(
        environment="test", data_dir=directory, database_url=f"sqlite:///{directory / 'ikki.db'}",
        worker_in_process=False, virtual_sticker=False, factory_token=TOKEN, mqtt_port=broker_port,
    )
    for name, value in settings.model_dump().items():
        if value is not None and not isinstance(value, (dict, list)):
            os.environ[f"IKKI_{name.upper()}"] = str(value)
    get_settings.cache_clear()
    core_db.migrate(settings.database_url)

    from backend.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"web server did not start on {url}")


def start_boards(directory: Path, count: int) -> list[SerialBoard]:
    boards = []
    for index in range(count):
        board = SerialBoard(directory / f"board{index + 1}")
        board.start()
        boards.append(board)
    return boards


def bare_write(port: str, image: Path, vfs: Path) -> None:
    mode = reset_mode(port)
    subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp32s3", "--port", port, "--before", mode.before,
         "--after", mode.after, "--no-stub", "write-flash", "--compress", "--flash-size", "keep",
         "0x0", str(image), hex(VFS_OFFSET), str(vfs)],
        check=True, capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=4, help="boards per batch")
    options = parser.parse_args()
    count = options.boards

    work = Path(tempfile.mkdtemp(prefix="ikki-bench-factory-"))
    try:
        with AmqttBroker() as broker:
            server, url = start_server(work, broker.port)
            image = write_test_micropython_image(work / "micropython-standin-esp32s3.bin")
            vfs = work / "vfs.bin"
            vfs.write_bytes(build_vfs_image(application_files(), {
                "device_id": "stk-bench", "key": secrets.token_hex(32), "claim_code": "ACDE-FGHJ-KMNP-QRTU",
                "mqtt_host": "127.0.0.1", "mqtt_port": broker.port,
            }))

            baseline_boards = start_boards(work / "baseline", count)
            started = time.monotonic()
            with ThreadPoolExecutor(count) as pool:
                list(pool.map(lambda board: bare_write(str(board.directory / "tty"), image, vfs),
                              baseline_boards))
            baseline_s = time.monotonic() - started
            for board in baseline_boards:
                board.stop()

            from backend.cli import main as ikki

            started = time.monotonic()
            application_files(cache_dir=work / "out" / "mpy-cache")
            compile_s = time.monotonic() - started

            station_boards = start_boards(work / "station", count)
            arguments = ["station", "provision"]
            for board in station_boards:
                arguments += ["--port", str(board.directory / "tty")]
            arguments += [
                "--image", str(image), "--server", url, "--token", TOKEN, "--operator", "bench",
                "--station", "bench", "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port),
                "--factory-broker", f"127.0.0.1:{broker.port}", "--output", str(work / "out"),
                "--batch", "bench",
            ]
            started = time.monotonic()
            result = CliRunner().invoke(ikki, arguments, catch_exceptions=False)
            station_s = time.monotonic() - started
            for board in station_boards:
                board.stop()
            server.should_exit = True
            if result.exit_code != 0:
                raise SystemExit(f"station batch failed:\n{result.output}")

        baseline_per_device = baseline_s / count
        station_per_device = station_s / count
        print(f"boards per batch:            {count}")
        print(f"mpy-cross, once per station: {compile_s:.2f} s (not in the figures below)")
        print(f"bare esptool write:          {baseline_per_device:.2f} s per device, "
              f"{3600 / baseline_per_device:.0f} devices per hour")
        print(f"station (provision command): {station_per_device:.2f} s per device, "
              f"{3600 / station_per_device:.0f} devices per hour")
        print(f"station / bare write:        {station_s / baseline_s:.2f} "
              f"(station adds {100 * (station_s / baseline_s - 1):.0f} %; goal < 30 %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Fixtures for the factory station: virtual boards on ptys, a factory broker, the web app served
by uvicorn with a factory token, and the stand-in MicroPython image."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from backend.cli import main
from backend.core.settings import Settings, get_settings
from backend.web.app import create_app
from provisioning.image import write_test_micropython_image
from simulator.brokers import AmqttBroker
from simulator.serial_port import SerialBoard
from tests.conftest import free_port, make_settings
from tests.support.servers import LiveServer

FACTORY_TOKEN = "factory-token-for-station-tests"


@pytest.fixture(scope="session")
def standin_image(tmp_path_factory) -> Path:
    """The stand-in for the MicroPython image (a test file) with its .sha256 manifest."""
    return write_test_micropython_image(
        tmp_path_factory.mktemp("image") / "micropython-standin-esp32s3.bin"
    )


@pytest.fixture
def factory_broker() -> Iterator[AmqttBroker]:
    with AmqttBroker() as broker:
        yield broker


@pytest.fixture
def server_settings(data_dir: Path, sqlite_url: str, factory_broker: AmqttBroker,
                    monkeypatch) -> Iterator[Settings]:
    configured = make_settings(data_dir, sqlite_url, factory_token=FACTORY_TOKEN,
                               mqtt_port=factory_broker.port)
    for name, value in configured.model_dump().items():
        if value is not None and not isinstance(value, (dict, list)):
            monkeypatch.setenv(f"IKKI_{name.upper()}", str(value))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def server(server_settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(create_app(server_settings), free_port())
    live.start()
    yield live
    live.stop()


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[Callable[..., list[SerialBoard]]]:
    """Start virtual boards on ptys: boards(count, chip="esp32s3")."""
    started: list[SerialBoard] = []

    def start(count: int = 1, chip: str = "esp32s3") -> list[SerialBoard]:
        made = []
        for _ in range(count):
            board = SerialBoard(tmp_path / f"board{len(started) + 1}", chip=chip)
            board.start()
            started.append(board)
            made.append(board)
        return made

    yield start
    for board in started:
        board.stop()


def port_of(board: SerialBoard) -> str:
    return str(board.directory / "tty")


@pytest.fixture
def station(tmp_path: Path, standin_image: Path, factory_broker: AmqttBroker,
            server: LiveServer) -> Callable[..., Result]:
    """Run `ikki station <command>` against the live server, the factory broker and the given boards."""

    def run(command: str, boards: list[SerialBoard], *extra: str, server_url: str | None = None,
            image: Path | None = None) -> Result:
        arguments = ["station", command]
        for board in boards:
            arguments += ["--port", port_of(board)]
        arguments += [
            "--image", str(image or standin_image), "--server", server_url or server.url,
            "--token", FACTORY_TOKEN, "--station", "station-test", "--operator", "op-7",
            "--mqtt-host", "127.0.0.1", "--mqtt-port", str(factory_broker.port),
            "--factory-broker", f"127.0.0.1:{factory_broker.port}",
            "--output", str(tmp_path / "station"), "--batch", "batch-test",
            "--site", server.url, *extra,
        ]
        return CliRunner().invoke(main, arguments, catch_exceptions=False)

    return run

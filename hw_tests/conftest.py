"""Hardware-in-the-loop tests: a real board with `--port`, else a virtual board started here.

The virtual board is flashed through the real esptool path with the stand-in
MicroPython image and the application's littlefs image, and reached through
mpremote's raw REPL. Its jig is the board's control files, so the tests
marked `jig` and `operator` run against it. On a real board they need
`--jig` (a jig that sets the light and listens) or `--operator` (a person
who answers prompts), and are skipped otherwise. Tests marked `real_board`
are deselected, not skipped, unless `--port` is given.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from provisioning.flashing import write_flash
from provisioning.image import application_files, build_vfs_image, write_test_micropython_image
from provisioning.jig import OperatorJig, VirtualJig, jig_for
from provisioning.repl import BoardRepl
from simulator.brokers import AmqttBroker
from simulator.serial_port import SerialBoard

# In CI (IKKI_TEST_NO_SKIP=1) a skipped test fails here too.
from tests.conftest import pytest_runtest_makereport  # noqa: F401


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ikki hardware")
    group.addoption("--port", default=None,
                    help="serial port of a real, provisioned board (default: a virtual board)")
    group.addoption("--jig", action="store_true",
                    help="the real board sits in a test jig that sets the light and listens")
    group.addoption("--operator", action="store_true",
                    help="a person at the station answers prompts (light, sound)")
    group.addoption("--broker", default=None,
                    help="HOST:PORT of a broker the real board reaches (default: its config's)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_board: needs a real board (--port); deselected otherwise")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--port"):
        return
    kept, deselected = [], []
    for item in items:
        is_hw_test = Path(str(item.fspath)).parent == Path(__file__).parent
        (deselected if is_hw_test and item.get_closest_marker("real_board") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@dataclass
class HardwareBoard:
    port: str
    config: dict
    jig: VirtualJig | OperatorJig
    virtual: SerialBoard | None
    broker: tuple[str, int]
    has_jig: bool
    has_operator: bool

    def repl(self) -> BoardRepl:
        return BoardRepl(self.port)


@pytest.fixture(scope="session")
def hardware(request: pytest.FixtureRequest) -> Iterator[HardwareBoard]:
    port = request.config.getoption("--port")
    if port:
        with BoardRepl(port) as repl:
            config = repl.read_config()
        if not config:
            pytest.fail(f"the board on {port} has no config.json: provision it with `ikki station provision`")
        broker_text = request.config.getoption("--broker")
        host, _, broker_port = (broker_text or f"{config['mqtt_host']}:{config.get('mqtt_port', 1883)}").rpartition(":")
        yield HardwareBoard(port, config, jig_for(port, None), None, (host, int(broker_port)),
                            request.config.getoption("--jig"), request.config.getoption("--operator"))
        return

    directory = Path(tempfile.mkdtemp(prefix="ikki-hw-"))
    with AmqttBroker() as broker:
        board = SerialBoard(directory / "board")
        board.start()
        try:
            image = write_test_micropython_image(directory / "micropython-standin-esp32s3.bin")
            config = {
                "device_id": f"stk-hw-{secrets.token_hex(3)}", "key": secrets.token_hex(32),
                "claim_code": "ACDE-FGHJ-KMNP-QRTU", "mqtt_host": "127.0.0.1",
                "mqtt_port": broker.port,
            }
            vfs = directory / "vfs.bin"
            vfs.write_bytes(build_vfs_image(application_files(), config))
            write_flash(str(board.directory / "tty"), image, vfs)
            port = str(board.directory / "tty")
            yield HardwareBoard(port, config, jig_for(port, None), board, ("127.0.0.1", broker.port),
                                True, True)
        finally:
            board.stop()
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def jig(hardware: HardwareBoard) -> VirtualJig | OperatorJig:
    if not (hardware.has_jig or hardware.has_operator):
        pytest.skip("needs a test jig (--jig) or a person at the station (--operator) on a real board")
    return hardware.jig


@pytest.fixture
def repl(hardware: HardwareBoard) -> Iterator[BoardRepl]:
    with hardware.repl() as session:
        session.run("import board, config\n_cfg = config.load()\n_board = board.Board(_cfg.board)\n")
        yield session

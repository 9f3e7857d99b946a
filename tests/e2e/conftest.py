"""The whole product on real parts: a database, a broker, ingestion, the job worker, an SMTP
server and a virtual sticker running the real firmware."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backend.accounts.service import sign_up
from backend.collection.service import issue_letter
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.settings import Settings, get_settings
from backend.devices import service as devices
from backend.devices.broker import EmbeddedBroker
from backend.devices.ingestion import Ingestion
from backend.invoicing.service import import_invoice
from backend.notifications.jobs import Worker
from simulator.vboard import VirtualBoard, make_config
from tests.conftest import SAMPLE_INVOICE, free_port, make_settings, which_or_skip
from tests.support.mosquitto import MosquittoServer
from tests.support.servers import SmtpSink

# Short firmware timings so that a test arms and cries in seconds.
STICKER_TIMINGS = {"arm_delay_s": 1, "cry_max_s": 3, "cry_stop_dark_s": 1, "debounce_ms": 200,
                   "volume": 100, "retry_min_s": 0.5, "retry_max_s": 2}
CRY_MAX_S = STICKER_TIMINGS["cry_max_s"]
FREELANCER_EMAIL = "lien@example.be"
FREELANCER_PASSWORD = "correct-horse-battery"


def install_settings(monkeypatch, configured: Settings) -> None:
    """Make ``get_settings()`` return these settings everywhere, through the environment."""
    for name, value in configured.model_dump().items():
        if value is not None:
            monkeypatch.setenv(f"IKKI_{name.upper()}", str(value))
    get_settings.cache_clear()


@dataclass
class RunningProduct:
    settings: Settings
    smtp: SmtpSink
    owner_id: int
    invoice_id: int
    letter_id: int
    device_id: str
    key: bytes
    board: VirtualBoard
    parts: list = field(default_factory=list)

    @property
    def engine(self):
        return core_db.get_engine(self.settings.database_url)


def _prepare_records(settings: Settings):
    engine = core_db.get_engine(settings.database_url)
    with session_scope(engine) as session:
        owner = sign_up(session, email=FREELANCER_EMAIL, name="Lien Verbeke", password=FREELANCER_PASSWORD)
        invoice = import_invoice(session, owner.id, SAMPLE_INVOICE.read_bytes(), SAMPLE_INVOICE.name)
        letter = issue_letter(session, owner.id, invoice.id)
        device, key = devices.register_device(session, is_virtual=True, hardware_revision="virtual")
        devices.claim_device(session, owner.id, device.claim_code)
        devices.link_to_letter(session, owner.id, device.device_id, letter.id)
        return owner.id, invoice.id, letter.id, device.device_id, key


@pytest.fixture(params=["amqtt-sqlite", pytest.param("mosquitto-postgres", marks=[pytest.mark.mosquitto,
                                                                                   pytest.mark.postgres])])
def product(request, data_dir: Path, monkeypatch, tmp_path: Path) -> Iterator[RunningProduct]:
    """Start every part; the virtual sticker is installed and linked to the letter, not started."""
    if request.param == "amqtt-sqlite":
        database_url = request.getfixturevalue("sqlite_url")
        broker_port = device_port = free_port()
    else:
        mosquitto_path = which_or_skip("mosquitto", "install it with: apt-get install mosquitto")
        database_url = request.getfixturevalue("database_url_postgres")
        broker_port, device_port = free_port(), free_port()

    smtp = SmtpSink(free_port())
    settings = make_settings(
        data_dir, database_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
        mqtt_broker="embedded" if request.param == "amqtt-sqlite" else "external",
        mqtt_host="127.0.0.1", mqtt_port=broker_port, mqtt_device_host="127.0.0.1",
        mqtt_device_port=device_port, worker_poll_interval_s=0.2,
        mqtt_ingest_client_id=f"ikki-ingestion-{request.param}",
    )
    install_settings(monkeypatch, settings)
    owner_id, invoice_id, letter_id, device_id, key = _prepare_records(settings)

    parts: list = []
    smtp.start()
    parts.append(smtp)
    if request.param == "amqtt-sqlite":
        broker = EmbeddedBroker(settings)
    else:
        broker = MosquittoServer(mosquitto_path, tmp_path / "mosquitto", settings)
        broker.port, broker.device_port = broker_port, device_port
    broker.start()
    parts.append(broker)
    worker = Worker(core_db.get_engine(settings.database_url), settings.worker_poll_interval_s)
    worker.start()
    parts.append(worker)
    ingestion = Ingestion(settings, on_stored=worker.wake)
    ingestion.start()
    parts.append(ingestion)
    assert ingestion.wait_until_subscribed(10), "ingestion did not subscribe within 10 s"

    config = make_config(device_id, key.hex(), mqtt_host="127.0.0.1", mqtt_port=device_port, **STICKER_TIMINGS)
    board = VirtualBoard(tmp_path / "sticker", config)
    board.install()
    parts.append(board)
    try:
        yield RunningProduct(settings, smtp, owner_id, invoice_id, letter_id, device_id, key, board, parts)
    finally:
        for part in reversed(parts):
            part.stop()
        get_settings.cache_clear()


@pytest.fixture
def database_url_postgres(request, data_dir: Path) -> Iterator[str]:
    from tests.conftest import empty_postgres_database

    url = request.getfixturevalue("postgres_session_url")
    empty_postgres_database(url)
    yield url

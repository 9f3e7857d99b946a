"""Starting and stopping the product's parts in one process, as ``ikki up`` does."""

from __future__ import annotations

import signal
import socket
import threading

import structlog
import uvicorn

from backend.core.db import get_engine, migrate, session_scope
from backend.core.errors import IkkiError
from backend.core.logging import configure_logging
from backend.core.settings import Settings, get_settings

log = structlog.get_logger(__name__)


class PortUnavailable(IkkiError):
    message = ("Port {port} on {host} is not free for {purpose}: stop the program that uses it, "
               "or choose another port with {setting}.")


class InvalidPort(IkkiError):
    message = "Invalid port {port}: choose a number from 1 to 65535."


def check_port(host: str, port: int, purpose: str, setting: str) -> None:
    """Raise a clear error before starting a server on a port that is invalid or taken."""
    if not 0 < port < 65536:
        raise InvalidPort(port=port)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortUnavailable(host=host, port=port, purpose=purpose, setting=setting) from None


def prepare(settings: Settings) -> dict:
    """Migrate the database and create the demo freelancer and its virtual sticker once."""
    from backend.accounts.service import ensure_demo_user
    from backend.devices.service import ensure_demo_sticker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    with session_scope(get_engine(settings.database_url)) as session:
        user, created = ensure_demo_user(session, email=settings.demo_email, password=settings.demo_password)
        device = ensure_demo_sticker(session, owner_id=user.id) if settings.virtual_sticker else None
        from backend.collection.interest import seed_published_rates

        seed_published_rates(session)
        return {"user_id": user.id, "user_created": created,
                "device_id": device.device_id if device else None}


class Product:
    """The long-running parts besides the web server: broker, ingestion, worker, virtual sticker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = None
        self.ingestion = None
        self.worker = None
        self.sticker = None
        self.collection = None

    def start(self, demo_device_id: str | None = None) -> None:
        from backend.devices.broker import EmbeddedBroker
        from backend.devices.ingestion import Ingestion
        from backend.notifications.jobs import Worker

        settings = self.settings
        engine = get_engine(settings.database_url)
        if settings.mqtt_broker == "embedded":
            self.broker = EmbeddedBroker(settings)
            self.broker.start()
        if settings.worker_in_process:
            self.worker = Worker(engine, settings.worker_poll_interval_s)
            self.worker.start()
        if settings.worker_in_process and settings.collection_scheduler:
            from backend.collection.scheduler import CollectionScheduler

            self.collection = CollectionScheduler(engine, settings.collection_scheduler_interval_s)
            self.collection.start()
        self.ingestion = Ingestion(settings, on_stored=self.worker.wake if self.worker else None)
        self.ingestion.start()
        if settings.virtual_sticker and demo_device_id is not None:
            from backend.devices.virtual import start_virtual_sticker

            self.sticker = start_virtual_sticker(settings, demo_device_id)

    def stop(self) -> None:
        for part in (self.sticker, self.ingestion, self.collection, self.worker, self.broker):
            if part is None:
                continue
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - stopping the others matters more
                log.exception("product.stop_failed", part=type(part).__name__)


def run_product(host: str | None = None, port: int | None = None) -> None:
    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    if host or port:
        settings.base_url = f"http://{settings.host}:{settings.port}"
    configure_logging(settings.environment)
    check_port(settings.host, settings.port, "the web server", "--port or IKKI_PORT")
    if settings.mqtt_broker == "embedded":
        check_port(settings.mqtt_host, settings.mqtt_port, "the embedded MQTT broker", "IKKI_MQTT_PORT")

    demo = prepare(settings)
    product = Product(settings)
    product.start(demo_device_id=demo["device_id"])

    from backend.web.app import create_app

    print(f"\nIkki is running at {settings.base_url}/", flush=True)
    print(f"Demo login: {settings.demo_email} / {settings.demo_password}", flush=True)
    if demo["device_id"]:
        print(f"Virtual sticker: {demo['device_id']} (open its envelope at {settings.base_url}/demo)", flush=True)
    print("Press Ctrl+C to stop.\n", flush=True)
    try:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
    finally:
        product.stop()


def run_worker() -> None:
    from backend.notifications.jobs import Worker

    settings = get_settings()
    configure_logging(settings.environment)
    worker = Worker(get_engine(settings.database_url), settings.worker_poll_interval_s)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    worker.start()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()

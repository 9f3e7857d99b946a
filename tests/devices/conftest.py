"""Fixtures for the devices domain: settings on a fresh database, owners with reminder letters,
signed events, the embedded broker, ingestion, and a Mosquitto started by the test."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import select

from backend.accounts.models import User
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.settings import Settings, get_settings
from backend.devices import service
from backend.devices.broker import EmbeddedBroker
from backend.devices.ingestion import Ingestion
from backend.devices.models import DeviceEvent, RejectedMessage
from backend.devices.protocol import events_topic, mqtt_password, sign_event
from tests.support.mosquitto import MosquittoServer
from tests.conftest import SAMPLE_INVOICE, free_port, make_settings, which_or_skip

FACTORY_TOKEN = "factory-token-for-tests"


def install_settings(monkeypatch, configured: Settings) -> Settings:
    """Make ``configured`` the process-wide settings, as the shared ``settings`` fixture does."""
    for name, value in configured.model_dump().items():
        if value is not None and not isinstance(value, (dict, list)):
            monkeypatch.setenv(f"IKKI_{name.upper()}", str(value))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def db_settings(database_url: str, data_dir: Path, monkeypatch) -> Iterator[Settings]:
    """Settings on a fresh database: SQLite, then PostgreSQL."""
    yield install_settings(monkeypatch, make_settings(
        data_dir, database_url, mqtt_port=free_port(), factory_token=FACTORY_TOKEN,
    ))
    get_settings.cache_clear()


@pytest.fixture
def sqlite_settings(sqlite_url: str, data_dir: Path, monkeypatch) -> Iterator[Settings]:
    """Settings on a fresh SQLite database, for tests where the database engine does not matter."""
    yield install_settings(monkeypatch, make_settings(
        data_dir, sqlite_url, mqtt_port=free_port(), factory_token=FACTORY_TOKEN,
        mqtt_redelivery_delay_s=0.3,
    ))
    get_settings.cache_clear()


# Owners, letters and devices


def make_owner(session, email: str = "lien@example.be") -> int:
    """Add a freelancer directly, without hashing a password: these tests never log in."""
    user = User(email=email, name="Lien Verbeke", password_hash="no-login-in-these-tests")
    session.add(user)
    session.flush()
    return user.id


def make_letter(session, owner_id: int, invoice_id: int | None = None) -> Any:
    """Issue a reminder letter on the sample Peppol invoice, imported once per owner."""
    from backend.collection.service import issue_letter
    from backend.invoicing.service import import_invoice

    if invoice_id is None:
        invoice_id = import_invoice(session, owner_id, SAMPLE_INVOICE.read_bytes(), SAMPLE_INVOICE.name).id
    return issue_letter(session, owner_id, invoice_id)


def event_fields(device_id: str, seq: int, event_type: str = "heartbeat", **extra: Any) -> dict[str, Any]:
    fields = {"v": 1, "dev": device_id, "seq": seq, "type": event_type, "up": 1000 + seq,
              "age": 0, "fw": "1.0.0"}
    fields.update(extra)
    return fields


def signed_payload(key: bytes, device_id: str, seq: int, event_type: str = "heartbeat", **extra: Any) -> bytes:
    return json.dumps(sign_event(key, event_fields(device_id, seq, event_type, **extra)),
                      sort_keys=True, separators=(",", ":")).encode("ascii")


def stored_events(engine) -> list[DeviceEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(DeviceEvent).order_by(DeviceEvent.id)).all())


def rejections(engine) -> list[RejectedMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(RejectedMessage).order_by(RejectedMessage.id)).all())


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, description: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {description}")
        time.sleep(0.05)


@pytest.fixture
def engine(sqlite_settings: Settings):
    return core_db.get_engine(sqlite_settings.database_url)


@pytest.fixture
def registered(sqlite_settings: Settings, engine) -> tuple[str, bytes]:
    """One registered device, as its id and key."""
    with session_scope(engine) as session:
        device, key = service.register_device(session, device_id="stk-test-a")
    return device.device_id, key


# MQTT clients


class MqttTestClient:
    """A paho client that connects as a device or the backend and publishes with QoS 1."""

    def __init__(self, port: int, username: str | None, password: str | None,
                 client_id: str | None = None) -> None:
        self.port = port
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        # A refused connection must not be retried in the background.
        self.client.reconnect_delay_set(60, 60)
        self.connack = threading.Event()
        self.reason_code: Any = None
        self.connack_flags_session_present = False
        self.granted: list[Any] = []
        self.subscribed = threading.Event()
        self.received: list[tuple[str, bytes]] = []
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.reason_code = reason_code
        self.connack_flags_session_present = flags.session_present
        self.connack.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.granted = list(reason_codes)
        self.subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        self.received.append((message.topic, message.payload))

    def connect(self, timeout: float = 5.0) -> Any:
        """Connect and return the CONNACK reason code."""
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self.connack.wait(timeout), "no CONNACK from the broker"
        return self.reason_code

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"no PUBACK for the message on {topic}"

    def subscribe(self, topic: str, timeout: float = 5.0) -> list[Any]:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(timeout), "no SUBACK from the broker"
        return self.granted

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_clients() -> Iterator[Callable[..., MqttTestClient]]:
    """Open connected MQTT clients; every one is closed after the test."""
    opened: list[MqttTestClient] = []

    def open_client(port: int, username: str | None, password: str | None, *,
                    expect_refused: bool = False, client_id: str | None = None) -> MqttTestClient:
        client = MqttTestClient(port, username, password, client_id)
        opened.append(client)
        reason = client.connect()
        if not expect_refused:
            assert not reason.is_failure, f"connection refused: {reason}"
        return client

    yield open_client
    for client in opened:
        client.close()


def device_client(open_client, port: int, device_id: str, key: bytes) -> MqttTestClient:
    """Connect as the device, with its id as client id as the firmware does."""
    return open_client(port, device_id, mqtt_password(key), client_id=device_id)


def publish_event(client: MqttTestClient, key: bytes, device_id: str, seq: int,
                  event_type: str = "heartbeat", **extra: Any) -> bytes:
    payload = signed_payload(key, device_id, seq, event_type, **extra)
    client.publish(events_topic(device_id), payload)
    return payload


# Brokers and ingestion


@pytest.fixture
def embedded_broker(sqlite_settings: Settings) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(sqlite_settings)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def start_ingestion(sqlite_settings: Settings) -> Iterator[Callable[..., Ingestion]]:
    """Start ingestion workers on a port; every one is stopped after the test."""
    started: list[Ingestion] = []

    def start(port: int | None = None, client_id: str = "ingestion-under-test") -> Ingestion:
        worker = Ingestion(sqlite_settings, port=port, client_id=client_id)
        started.append(worker)
        worker.start()
        assert worker.wait_until_subscribed(10), "ingestion did not subscribe within 10 s"
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def mosquitto(sqlite_settings: Settings, tmp_path: Path) -> Iterator[MosquittoServer]:
    """A Mosquitto to start after the devices are registered; stopped after the test."""
    executable = which_or_skip("mosquitto", "install it with: apt-get install mosquitto")
    server = MosquittoServer(executable, tmp_path / "mosquitto", sqlite_settings)
    yield server
    server.stop()

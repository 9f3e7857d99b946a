"""Signed sticker events per second from broker to database, against a plain subscriber.

For each setup (amqtt with SQLite, Mosquitto with PostgreSQL) the script starts the broker,
registers devices, starts Ikki's ingestion and, beside it, a plain paho subscriber on the
same topics. The devices publish signed events at QoS 1 as fast as the broker takes them.
It prints both rates and the ratio of ingestion's rate to the plain subscriber's: the
plain subscriber only counts messages, so the ratio is the cost of verifying and storing
each event exactly once.

    uv run python benchmarks/ingest.py [--events 2000] [--devices 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.core import db as core_db  # noqa: E402
from backend.core.db import session_scope  # noqa: E402
from backend.core.settings import Settings  # noqa: E402
from backend.devices import service  # noqa: E402
from backend.devices.broker import EmbeddedBroker  # noqa: E402
from backend.devices.ingestion import Ingestion  # noqa: E402
from backend.devices.models import DeviceEvent  # noqa: E402
from backend.devices.mosquitto import write_mosquitto_config  # noqa: E402
from backend.devices.protocol import events_topic, mqtt_password, sign_event  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("IKKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class PlainSubscriber:
    """A paho client that only counts the messages it receives."""

    def __init__(self, port: int, username: str, password: str, topic: str) -> None:
        self.count = 0
        self.last_at = 0.0
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plain-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(username, password)
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the plain subscriber did not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        self.count += 1
        self.last_at = time.perf_counter()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def publish_all(port: int, devices: list[tuple[str, bytes]], events_per_device: int) -> None:
    """Publish every device's signed events at QoS 1, each device on its own connection."""
    clients = []
    for device_id, key in devices:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
        client.username_pw_set(device_id, mqtt_password(key))
        client.max_inflight_messages_set(50)
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append((client, device_id, key))
    infos = []
    for seq in range(1, events_per_device + 1):
        for client, device_id, key in clients:
            fields = {"v": 1, "dev": device_id, "seq": seq, "type": "heartbeat", "up": seq * 1000,
                      "age": 0, "fw": "bench", "batt_mv": 3900}
            payload = json.dumps(sign_event(key, fields), separators=(",", ":"))
            infos.append(client.publish(events_topic(device_id), payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    for client, _, _ in clients:
        client.loop_stop()
        client.disconnect()


def stored_count(engine) -> int:
    with session_scope(engine, write_lock=False) as session:
        return session.exec(select(func.count()).select_from(DeviceEvent)).one()


def run_setup(name: str, settings: Settings, start_broker, device_port: int, events: int, device_count: int) -> dict:
    core_db.migrate(settings.database_url)
    engine = core_db.get_engine(settings.database_url)
    devices = []
    with session_scope(engine) as session:
        for number in range(device_count):
            device, key = service.register_device(session, device_id=f"bench-{number:04d}", settings=settings)
            devices.append((device.device_id, key))
    stop_broker = start_broker()
    ingestion = Ingestion(settings, engine=engine)
    ingestion.start()
    if not ingestion.wait_until_subscribed(10):
        raise RuntimeError("ingestion did not subscribe")
    plain = PlainSubscriber(settings.mqtt_port, settings.mqtt_username, settings.mqtt_password,
                            "ikki/v1/stickers/+/events")
    events_per_device = max(1, events // device_count)
    total = events_per_device * device_count
    try:
        started = time.perf_counter()
        publish_all(device_port, devices, events_per_device)
        deadline = time.monotonic() + 120
        stored_at = None
        while time.monotonic() < deadline:
            if stored_count(engine) >= total:
                stored_at = time.perf_counter()
                break
            time.sleep(0.02)
        if stored_at is None:
            raise RuntimeError(f"{name}: only {stored_count(engine)} of {total} events stored after 120 s")
        plain_deadline = time.monotonic() + 60
        while plain.count < total and time.monotonic() < plain_deadline:
            time.sleep(0.02)
    finally:
        plain.stop()
        ingestion.stop()
        stop_broker()
    ingest_rate = total / (stored_at - started)
    plain_rate = plain.count / (plain.last_at - started)
    return {"setup": name, "events": total, "ingest_rate": ingest_rate, "plain_rate": plain_rate,
            "ratio": ingest_rate / plain_rate}


def amqtt_sqlite(workdir: Path, events: int, device_count: int) -> dict:
    port = free_port()
    settings = Settings(environment="test", data_dir=workdir, database_url=f"sqlite:///{workdir / 'bench.db'}",
                        mqtt_port=port, mqtt_device_port=port, mqtt_ingest_client_id="bench-ingestion")

    def start_broker():
        broker = EmbeddedBroker(settings)
        broker.start()
        return broker.stop

    return run_setup("amqtt + SQLite", settings, start_broker, port, events, device_count)


def mosquitto_postgres(workdir: Path, events: int, device_count: int) -> dict | None:
    executable = shutil.which("mosquitto")
    if executable is None:
        print("mosquitto not installed (apt-get install mosquitto): Mosquitto + PostgreSQL not measured")
        return None
    name = f"ikki_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    port, device_port = free_port(), free_port()
    settings = Settings(environment="test", data_dir=workdir, database_url=url, mqtt_broker="external",
                        mqtt_port=port, mqtt_device_port=device_port, mqtt_ingest_client_id="bench-ingestion")

    def start_broker():
        directory = workdir / "mosquitto"
        with session_scope(core_db.get_engine(url)) as session:
            write_mosquitto_config(session, directory, settings, host="127.0.0.1", port=port,
                                   device_port=device_port, run_as="root" if os.geteuid() == 0 else None)
        log = (directory / "mosquitto.log").open("ab")
        process = subprocess.Popen([executable, "-c", str(directory / "mosquitto.conf")], stdout=log,
                                   stderr=subprocess.STDOUT)
        wait_for_port(port)
        wait_for_port(device_port)

        def stop():
            process.terminate()
            process.wait(10)

        return stop

    try:
        return run_setup("Mosquitto + PostgreSQL", settings, start_broker, device_port, events, device_count)
    finally:
        core_db.dispose_engines()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events to publish per setup")
    parser.add_argument("--devices", type=int, default=20, help="devices publishing at once")
    arguments = parser.parse_args()

    from backend.core.logging import configure_logging

    configure_logging("development", level=30)
    results = []
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        results.append(amqtt_sqlite(Path(first), arguments.events, arguments.devices))
        core_db.dispose_engines()
        result = mosquitto_postgres(Path(second), arguments.events, arguments.devices)
        if result:
            results.append(result)
    print(f"{'setup':<24} {'events':>7} {'stored/s':>10} {'plain/s':>10} {'ratio':>7}")
    for result in results:
        print(f"{result['setup']:<24} {result['events']:>7} {result['ingest_rate']:>10.0f} "
              f"{result['plain_rate']:>10.0f} {result['ratio']:>7.2f}")


if __name__ == "__main__":
    main()

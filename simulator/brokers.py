"""MQTT brokers on 127.0.0.1 for virtual stickers and their tests.

MosquittoBroker runs the mosquitto binary (Debian package mosquitto) as a
subprocess, with a password file when users are given; AmqttBroker runs the
amqtt broker in a background thread of this process.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

import structlog

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
MOSQUITTO_HINT = "install the Debian package mosquitto (apt-get install mosquitto)"
_START_TIMEOUT_S = 10.0


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = _START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"no broker accepting connections on {HOST}:{port} after {timeout} s"
                ) from None
            time.sleep(0.02)


def mosquitto_binary() -> Path | None:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


class MosquittoBroker:
    """A mosquitto process listening on 127.0.0.1:port.

    With `users` (name -> password), clients must log in; without, anonymous
    clients are allowed.
    """

    def __init__(
        self,
        port: int | None = None,
        users: dict[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerError(f"mosquitto was not found: {MOSQUITTO_HINT}")
        self.binary = binary
        self.port = port or free_port()
        self.users = users or {}
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mosquitto-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} {HOST}",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type all",
            # Started as root, mosquitto switches to this user: keep the one
            # that owns the work directory.
            f"user {getpass.getuser()}",
        ]
        if self.users:
            password_file = self.workdir / "passwords"
            password_file.write_text(
                "".join(f"{user}:{password}\n" for user, password in self.users.items())
            )
            password_file.chmod(0o600)
            passwd = shutil.which("mosquitto_passwd")
            if passwd is None:
                raise BrokerError(f"mosquitto_passwd was not found: {MOSQUITTO_HINT}")
            # Hash the plain-text file in place.
            subprocess.run([passwd, "-U", str(password_file)], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self._process = subprocess.Popen(
            [str(self.binary), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_port(self.port)
        except BrokerError:
            self.stop()
            raise
        log.info("broker.started", kind="mosquitto", port=self.port, pid=self._process.pid)
        return self

    def stop(self) -> None:
        process = self._process
        self._process = None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        log.info("broker.stopped", kind="mosquitto", port=self.port)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


class AmqttBroker:
    """The amqtt broker on 127.0.0.1:port, in its own event loop thread; anonymous clients allowed."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None

    def start(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            from amqtt.broker import Broker

            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }

            async def open_broker() -> None:
                self._broker = Broker(config)
                await self._broker.start()

            try:
                loop.run_until_complete(open_broker())
            except Exception as error:  # noqa: BLE001 - raised again by start() in the caller's thread
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name=f"amqtt:{self.port}", daemon=True)
        self._thread.start()
        ready.wait(_START_TIMEOUT_S)
        if failure:
            raise BrokerError(f"amqtt broker failed to start on {HOST}:{self.port}: {failure[0]!r}")
        wait_for_port(self.port)
        log.info("broker.started", kind="amqtt", port=self.port)
        return self

    def stop(self) -> None:
        loop, broker, thread = self._loop, self._broker, self._thread
        self._loop = self._broker = self._thread = None
        if loop is None or thread is None:
            return
        if broker is not None:
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
            future.result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        log.info("broker.stopped", kind="amqtt", port=self.port)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Subscriber:
    """A paho-mqtt client that records every message on `topics` (for observers and tests)."""

    def __init__(
        self, port: int, topics: list[str], user: str | None = None, password: str | None = None
    ) -> None:
        import paho.mqtt.client as paho

        self.port = port
        self.topics = topics
        self.messages: list[tuple[str, bytes, bool]] = []
        self._condition = threading.Condition()
        self._subscribed = threading.Event()
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=f"observer-{time.monotonic_ns()}"
        )
        if user is not None:
            self._client.username_pw_set(user, password)
        self._client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("subscriber.connect_failed", port=self.port, reason=str(reason_code))
            return
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        # paho reconnects by itself; _on_connect then subscribes again.
        self._subscribed.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._subscribed.set()

    def wait_subscribed(self, timeout: float) -> None:
        """Wait until the subscription is in place, for example after the broker restarted."""
        if not self._subscribed.wait(timeout):
            raise BrokerError(
                f"subscriber not subscribed to {self.topics} on {HOST}:{self.port} after {timeout} s"
            )

    def _on_message(self, client, userdata, message) -> None:
        with self._condition:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self._condition.notify_all()

    def start(self, timeout: float = _START_TIMEOUT_S) -> Self:
        self._client.connect(HOST, self.port)
        self._client.loop_start()
        try:
            self.wait_subscribed(timeout)
        except BrokerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def on_topic(self, topic: str) -> list[bytes]:
        with self._condition:
            return [
                payload for message_topic, payload, _ in self.messages if message_topic == topic
            ]

    def wait_for(self, topic: str, count: int, timeout: float) -> list[bytes]:
        """Wait until `count` messages arrived on `topic`; return all of them."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                payloads = [
                    payload for message_topic, payload, _ in self.messages if message_topic == topic
                ]
                if len(payloads) >= count:
                    return payloads
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(payloads)} of {count} messages on {topic} after {timeout} s"
                    )
                self._condition.wait(remaining)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

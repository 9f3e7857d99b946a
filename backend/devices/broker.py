"""The embedded MQTT broker (amqtt 0.12) with device authentication and topic access control.

``EmbeddedBroker`` runs amqtt in its own thread and asyncio loop, inside the backend
process. Two plugins guard it:

- ``DeviceAuthPlugin`` accepts the backend user from the settings and every registered
  device that sends the password derived from its key, with its device id as client id.
  It rejects anonymous clients.
- ``DeviceTopicPlugin`` lets a device publish only under ``ikki/v1/stickers/<its id>/`` and
  subscribe to and receive only its own configuration topic; the backend user may do all.

Every denial is logged and counted by reason, in the plugin and in metrics.broker_denial_counts.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Self

import structlog
from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session as MqttSession
from cryptography.fernet import InvalidToken
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from backend.core.db import get_engine
from backend.core.settings import Settings, get_settings
from backend.devices import metrics
from backend.devices.models import Device
from backend.devices.protocol import (
    DEVICE_ID_PATTERN,
    config_topic,
    device_topic_prefix,
    mqtt_password,
)
from backend.devices.service import fernet_for

log = structlog.get_logger(__name__)

MAX_LOGGED_TOPIC = 200


def _count_denial(counter: Counter[str], reason: str) -> None:
    counter[reason] += 1
    metrics.broker_denial_counts.increment(reason)


class DeviceAuthPlugin(BaseAuthPlugin):
    """Authentication of the backend user and of registered devices. Everyone else is rejected."""

    @dataclass
    class Config:
        database_url: str = ""
        backend_username: str = ""
        backend_password: str = ""
        device_key_encryption_key: str = ""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.denials: Counter[str] = Counter()

    async def authenticate(self, *, session: MqttSession) -> bool | None:
        username = session.username
        password = session.password or ""
        if not username:
            return self._deny("anonymous", session)
        if username == self.config.backend_username:
            if hmac.compare_digest(password.encode(), self.config.backend_password.encode()):
                return True
            return self._deny("bad_password", session)
        if not DEVICE_ID_PATTERN.match(username):
            return self._deny("unknown_user", session)
        if session.client_id != username:
            # A device that took another client id could take over that client's session,
            # such as the persistent session of ingestion.
            return self._deny("client_id_mismatch", session)

        try:
            expected = await asyncio.to_thread(self._device_password, username)
        except InvalidToken:
            log.error("mqtt.device_key_unreadable", device_id=username)
            return self._deny("key_unreadable", session)
        except SQLAlchemyError as error:
            log.error("mqtt.auth_lookup_failed", device_id=username, error=repr(error)[:200])
            return self._deny("lookup_failed", session)
        if expected is None:
            return self._deny("unknown_user", session)
        if not hmac.compare_digest(password.encode(), expected.encode()):
            return self._deny("bad_password", session)
        return True

    def _device_password(self, device_id: str) -> str | None:
        with Session(get_engine(self.config.database_url)) as db:
            device = db.get(Device, device_id)
            if device is None:
                return None
            token = device.key_encrypted.encode("ascii")
        return mqtt_password(fernet_for(self.config.device_key_encryption_key).decrypt(token))

    def _deny(self, reason: str, session: MqttSession) -> bool:
        _count_denial(self.denials, reason)
        log.warning("mqtt.connect_denied", reason=reason, client_id=(session.client_id or "")[:64],
                    username=(session.username or "")[:64])
        return False


class DeviceTopicPlugin(BaseTopicPlugin):
    """Topic access control: each device keeps to its own topics, and the backend user may use all."""

    @dataclass
    class Config:
        backend_username: str = ""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.denials: Counter[str] = Counter()

    async def topic_filtering(self, *, session: MqttSession | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        username = session.username if session else None
        if username and username == self.config.backend_username:
            return True
        if self._device_may(username, topic, action):
            return True

        reason = f"{action.value if action else 'unknown'}_denied"
        _count_denial(self.denials, reason)
        log.warning("mqtt.topic_denied", reason=reason, username=(username or "")[:64],
                    topic=(topic or "")[:MAX_LOGGED_TOPIC])
        return False

    @staticmethod
    def _device_may(device_id: str | None, topic: str | None, action: Action | None) -> bool:
        if not device_id or not topic:
            return False
        if action == Action.PUBLISH:
            return topic.startswith(device_topic_prefix(device_id))
        if action in (Action.SUBSCRIBE, Action.RECEIVE):
            return topic == config_topic(device_id)
        return False


_PLUGIN_PATH = __name__


def broker_config(settings: Settings, host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            f"{_PLUGIN_PATH}.DeviceAuthPlugin": {
                "database_url": settings.database_url,
                "backend_username": settings.mqtt_username,
                "backend_password": settings.mqtt_password,
                "device_key_encryption_key": settings.device_key_encryption_key,
            },
            f"{_PLUGIN_PATH}.DeviceTopicPlugin": {"backend_username": settings.mqtt_username},
        },
    }


class EmbeddedBroker:
    """amqtt on ``settings.mqtt_host:mqtt_port`` in a background thread with its own event loop.

    Use ``start()``/``stop()`` or a ``with`` block. Sessions and queued messages live in
    memory only and are lost when the broker stops.
    """

    def __init__(self, settings: Settings | None = None, *, host: str | None = None,
                 port: int | None = None) -> None:
        self.settings = settings or get_settings()
        self.host = host or self.settings.mqtt_host
        self.port = port or self.settings.mqtt_port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker; returns once it listens, or raises RuntimeError."""
        if self._thread is not None:
            raise RuntimeError("the embedded broker is already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure),
                                        name="mqtt-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"the embedded MQTT broker did not start within {timeout} s")
        if failure:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError(
                f"the embedded MQTT broker failed to start on {self.host}:{self.port}: {failure[0]}"
            ) from failure[0]
        log.info("mqtt.broker_started", host=self.host, port=self.port)

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._broker = Broker(broker_config(self.settings, self.host, self.port), loop=loop)
            loop.run_until_complete(self._broker.start())
        except BaseException as error:  # noqa: BLE001 - reported to start() in the caller's thread
            failure.append(error)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None or self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(timeout)
        except Exception as error:  # noqa: BLE001 - stopping goes on whatever shutdown raised
            log.error("mqtt.broker_shutdown_failed", error=repr(error))
        self._cancel_remaining_tasks(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("mqtt.broker_stop_timed_out", timeout_s=timeout)
        self._thread = None
        self._broker = None
        log.info("mqtt.broker_stopped", host=self.host, port=self.port)

    def _cancel_remaining_tasks(self, timeout: float) -> None:
        """Cancel client handlers that amqtt's shutdown leaves running, so the loop can close."""

        async def cancel_all() -> None:
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        assert self._loop is not None
        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(timeout)
        except Exception as error:  # noqa: BLE001 - the loop is stopped next in any case
            log.warning("mqtt.broker_tasks_not_cancelled", error=repr(error))

    def denial_counts(self) -> dict[str, int]:
        """Return the denials of this broker by reason (connections and topics)."""
        if self._broker is None:
            return {}
        counts: Counter[str] = Counter()
        for plugin in self._broker.plugins_manager.plugins:
            if isinstance(plugin, (DeviceAuthPlugin, DeviceTopicPlugin)):
                counts.update(plugin.denials)
        return dict(counts)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

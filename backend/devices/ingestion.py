"""MQTT ingestion: verify each sticker event and store it exactly once.

``ingest_message`` handles one message in the caller's session, without a broker.
``Ingestion`` subscribes to every sticker's events topic and calls ``ingest_message`` for
each message in its own transaction. It acknowledges a message only after the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Self

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session, select

from backend.core.db import get_engine, session_scope
from backend.core.settings import Settings, get_settings
from backend.core.time import utcnow
from backend.devices import metrics
from backend.devices.events import (
    MessageRejected,
    OccurrenceWindow,
    Reason,
    check_fields,
    occurrence_window,
    parse_payload,
    same_event,
)
from backend.devices.models import Device, DeviceEvent, RejectedMessage
from backend.devices.protocol import (
    EVENTS_TOPIC_FILTER,
    device_id_from_events_topic,
    signature_is_valid,
)
from backend.devices.service import device_key

log = structlog.get_logger(__name__)

PAYLOAD_EXCERPT_BYTES = 200
MAX_LOGGED_TEXT = 200
# Events that set the device's state when they carry no "state" field.
STATE_OF_EVENT = {"armed": "armed", "opened": "opened"}

OpenedListener = Callable[[Session, Device, DeviceEvent, Any], None]
# Called as listener(session, device, event, letter) after an "opened" event is stored, in
# the same transaction. ``letter`` is the linked ReminderLetter, or None when the sticker is
# not linked. ``letter.opened_event_id == event.id`` holds only for the event that first
# marked the letter opened. An exception rolls the whole message back, so ingestion
# retries it.
opened_listeners: list[OpenedListener] = []


@dataclass(frozen=True)
class IngestResult:
    outcome: Literal["stored", "duplicate", "rejected"]
    reason: str | None = None
    device_id: str | None = None
    seq: int | None = None
    event_id: int | None = None


def ingest_message(
    session: Session,
    topic: str,
    payload: bytes,
    *,
    received_at: datetime | None = None,
    settings: Settings | None = None,
) -> IngestResult:
    """Verify one MQTT message and store its event in the caller's transaction.

    A rejected message rolls the session back and adds a RejectedMessage in its place, so
    pass a session without other pending work and commit it afterwards. A duplicate of a
    stored event changes nothing. Other failures, such as database errors, propagate.
    """
    settings = settings or get_settings()
    received_at = received_at or utcnow()
    try:
        result = _store_event(session, topic, payload, received_at, settings)
    except MessageRejected as rejection:
        return _reject(session, topic, payload, rejection, received_at)
    metrics.ingestion_outcomes.increment(result.outcome)
    return result


def _store_event(session: Session, topic: str, payload: bytes, received_at: datetime,
                 settings: Settings) -> IngestResult:
    # Size first: nothing of an oversized payload is parsed.
    topic_device_id = device_id_from_events_topic(topic)
    if len(payload) > settings.mqtt_max_payload_bytes:
        raise MessageRejected(
            Reason.PAYLOAD_TOO_LARGE,
            f"{len(payload)} bytes, at most {settings.mqtt_max_payload_bytes}",
            topic_device_id,
        )
    if topic_device_id is None:
        raise MessageRejected(Reason.INVALID_TOPIC, "not ikki/v1/stickers/<device id>/events")
    fields = parse_payload(payload)
    check_fields(fields)
    device_id = fields["dev"]
    if device_id != topic_device_id:
        raise MessageRejected(
            Reason.TOPIC_MISMATCH,
            f"published on the topic of {topic_device_id[:64]} with dev {device_id}",
            topic_device_id,
        )

    device = session.get(Device, device_id)
    if device is None:
        raise MessageRejected(Reason.UNKNOWN_DEVICE, "no registered device has this id", device_id)
    if not signature_is_valid(device_key(device, settings), fields):
        raise MessageRejected(Reason.BAD_SIGNATURE, f"sig does not match the device key (seq {fields['seq']})",
                              device_id)

    stored = _stored_event(session, device_id, fields["seq"])
    if stored is not None:
        return _duplicate(stored, fields)
    event = DeviceEvent(
        device_id=device_id,
        seq=fields["seq"],
        event_type=fields["type"],
        device_uptime_ms=fields["up"],
        queued_ms=fields["age"],
        received_at=received_at,
        payload=fields,
    )
    try:
        # A savepoint, so that losing a race to a concurrent ingestion of the same event
        # leaves the transaction usable (PostgreSQL aborts it on a failed statement otherwise).
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        stored = _stored_event(session, device_id, fields["seq"])
        if stored is None:
            raise
        log.info("sticker.event_stored_concurrently", device_id=device_id, seq=stored.seq)
        return _duplicate(stored, fields)

    _apply_event(session, device, event, fields)
    log.info("sticker.event_stored", device_id=device_id, seq=event.seq, event_type=event.event_type,
             event_id=event.id)
    return IngestResult("stored", device_id=device_id, seq=event.seq, event_id=event.id)


def _stored_event(session: Session, device_id: str, seq: int) -> DeviceEvent | None:
    statement = select(DeviceEvent).where(DeviceEvent.device_id == device_id, DeviceEvent.seq == seq)
    return session.exec(statement).first()


def _duplicate(stored: DeviceEvent, fields: dict[str, Any]) -> IngestResult:
    """Accept a resent copy of a stored event, and reject another event under its number."""
    if not same_event(stored.payload, fields):
        raise MessageRejected(
            Reason.REPLAYED_SEQUENCE,
            f"seq {stored.seq} is stored as {stored.event_type} event {stored.id}; "
            f"this {fields['type']} event differs",
            stored.device_id,
        )
    log.info("sticker.event_duplicate", device_id=stored.device_id, seq=stored.seq, event_id=stored.id)
    return IngestResult("duplicate", device_id=stored.device_id, seq=stored.seq, event_id=stored.id)


def _apply_event(session: Session, device: Device, event: DeviceEvent, fields: dict[str, Any]) -> None:
    device.last_seen_at = event.received_at
    # Events may arrive out of order from the journal, so an older one must not undo a newer state.
    if device.last_seq is None or event.seq > device.last_seq:
        device.last_seq = event.seq
        device.firmware_version = fields["fw"]
        state = fields.get("state") or STATE_OF_EVENT.get(event.event_type)
        if state:
            device.state = state
    session.add(device)

    if event.event_type == "opened":
        _letter_opened(session, device, event)
    elif event.event_type == "armed":
        _sticker_armed(session, device, event)


def _occurred_at(event: DeviceEvent) -> datetime:
    return event.received_at - timedelta(milliseconds=event.queued_ms)


def occurrence_of(event: DeviceEvent) -> OccurrenceWindow:
    """Return the window in which a stored event happened, derived from received_at and its age."""
    return occurrence_window(event.received_at, event.queued_ms)


def _letter_opened(session: Session, device: Device, event: DeviceEvent) -> None:
    letter = None
    if device.letter_id is not None:
        from backend.collection.service import get_letter, mark_letter_opened

        from backend.collection.escalation import escalate_opened_letter

        window = occurrence_of(event)
        marked = mark_letter_opened(session, device.letter_id, _occurred_at(event), event.id,
                                    window=(window.earliest, window.latest))
        if marked is not None:
            # Only the first opening escalates; a second opening is on the timeline only.
            escalate_opened_letter(session, invoice_id=marked.invoice_id, letter_id=marked.id,
                                   event_id=event.id)
        # None means that the letter was opened before. The listeners still get the letter.
        letter = marked or get_letter(session, device.letter_id)
        log.info("sticker.letter_opened", device_id=device.device_id, letter_id=device.letter_id,
                 event_id=event.id, first_opening=marked is not None)
    else:
        log.info("sticker.opened_unlinked", device_id=device.device_id, event_id=event.id)
    for listener in opened_listeners:
        listener(session, device, event, letter)


def _sticker_armed(session: Session, device: Device, event: DeviceEvent) -> None:
    from backend.collection.service import get_letter
    from backend.invoicing.service import record_timeline

    if device.letter_id is None:
        return
    letter = get_letter(session, device.letter_id)
    record_timeline(session, letter.invoice_id, "sticker_armed", at=_occurred_at(event),
                    device_id=device.device_id, letter_id=device.letter_id)


# Rejections


def _reject(session: Session, topic: str, payload: bytes, rejection: MessageRejected,
            received_at: datetime) -> IngestResult:
    session.rollback()
    device_id = rejection.device_id or device_id_from_events_topic(topic)
    store_rejection(session, topic, payload, rejection.reason, rejection.detail, device_id, received_at)
    return IngestResult("rejected", reason=rejection.reason.value, device_id=device_id)


def store_rejection(session: Session, topic: str, payload: bytes, reason: Reason, detail: str,
                    device_id: str | None, received_at: datetime | None = None) -> RejectedMessage:
    """Log, count and add a RejectedMessage to the session. The caller commits."""
    # PostgreSQL text cannot contain NUL, and a broker may pass one on in a topic.
    topic = topic.replace("\x00", "\\x00")
    detail = detail.replace("\x00", "\\x00")
    device_id = device_id.replace("\x00", "\\x00")[:64] if device_id else None
    log.warning("ingestion.rejected", reason=reason.value, device_id=device_id,
                topic=topic[:MAX_LOGGED_TEXT], detail=detail[:MAX_LOGGED_TEXT], size=len(payload))
    metrics.rejection_counts.increment(reason.value)
    metrics.ingestion_outcomes.increment("rejected")
    rejected = RejectedMessage(
        received_at=received_at or utcnow(),
        topic=topic[:200],
        reason=reason.value,
        device_id=device_id,
        detail=detail[:500],
        payload_excerpt=bytes(payload[:PAYLOAD_EXCERPT_BYTES]),
    )
    session.add(rejected)
    session.flush()
    return rejected


# The subscriber


def _is_transient(error: Exception) -> bool:
    """Tell whether a failure may go away by itself, as when the database is unreachable or locked."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def events_subscription(settings: Settings) -> str:
    if settings.mqtt_ingest_shared_group:
        return f"$share/{settings.mqtt_ingest_shared_group}/{EVENTS_TOPIC_FILTER}"
    return EVENTS_TOPIC_FILTER


class Ingestion:
    """Subscribes to every sticker's events and ingests each message in its own transaction.

    The client keeps a persistent session (clean session off, stable client id), so the
    broker queues events while the worker is away. A message is acknowledged only after its
    transaction commits. When the database fails on every attempt, the message stays
    unacknowledged and the worker reconnects after ``mqtt_redelivery_delay_s`` so that the
    broker sends it again. Any other failure is stored as a "processing_failed" rejection
    and acknowledged, so that one bad message cannot hold up the others.

    NOTE: amqtt 0.12 drops an unacknowledged message from the session after 5 s or at the
    disconnection (amqtt/mqtt/protocol/handler.py, _handle_qos1_message_flow), so with the
    embedded broker a deferred message is lost. Mosquitto keeps it and sends it again.
    """

    def __init__(self, settings: Settings | None = None, *, host: str | None = None,
                 port: int | None = None, client_id: str | None = None,
                 engine: Engine | None = None,
                 on_stored: Callable[[], None] | None = None) -> None:
        self.settings = settings or get_settings()
        # Called after the commit of each stored event, for example to wake the job worker.
        self.on_stored = on_stored
        self.host = host or self.settings.mqtt_host
        self.port = port or self.settings.mqtt_port
        self.client_id = client_id or self.settings.mqtt_ingest_client_id
        self.engine = engine or get_engine(self.settings.database_url)
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._redelivery_needed = False
        self._retry_delay = 1.0
        self._thread: threading.Thread | None = None
        self._client = self._create_client()

    def _create_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # Lifecycle

    def start(self) -> None:
        """Start the worker thread, which connects and reconnects by itself until stop()."""
        if self._thread is not None:
            raise RuntimeError("the ingestion worker is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt-ingestion", daemon=True)
        self._thread.start()
        log.info("ingestion.started", host=self.host, port=self.port, client_id=self.client_id,
                 subscription=events_subscription(self.settings))

    def wait_until_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("ingestion.stop_timed_out", timeout_s=timeout)
        self._thread = None
        log.info("ingestion.stopped", client_id=self.client_id)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._client.connect(self.host, self.port, keepalive=self.settings.mqtt_keepalive_s)
            except OSError as error:
                log.warning("ingestion.connect_failed", host=self.host, port=self.port,
                            error=str(error), retry_in_s=self._retry_delay)
                self._wait_before_retry()
                continue

            result = MQTTErrorCode.MQTT_ERR_SUCCESS
            while (result == MQTTErrorCode.MQTT_ERR_SUCCESS and not self._stopping.is_set()
                   and not self._redelivery_needed):
                result = self._client.loop(timeout=0.2)
            self._subscribed.clear()

            if self._stopping.is_set() or self._redelivery_needed:
                self._client.disconnect()
                self._client.loop(timeout=0.1)
            if self._stopping.is_set():
                break
            if self._redelivery_needed:
                self._redelivery_needed = False
                log.warning("ingestion.reconnecting_for_redelivery",
                            delay_s=self.settings.mqtt_redelivery_delay_s)
                self._stopping.wait(self.settings.mqtt_redelivery_delay_s)
                continue
            log.warning("ingestion.connection_lost", error=mqtt.error_string(result),
                        retry_in_s=self._retry_delay)
            self._wait_before_retry()

    def _wait_before_retry(self) -> None:
        """Wait the current retry delay, then double it up to mqtt_reconnect_max_delay_s."""
        self._stopping.wait(self._retry_delay)
        self._retry_delay = min(self._retry_delay * 2, self.settings.mqtt_reconnect_max_delay_s)

    # Callbacks, all run on the worker thread inside client.loop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("ingestion.connect_refused", host=self.host, port=self.port,
                      reason=str(reason_code), username=self.settings.mqtt_username)
            return
        # Subscribe on every connection because the broker may have lost the persistent session.
        client.subscribe(events_subscription(self.settings), qos=1)
        log.info("ingestion.connected", session_present=flags.session_present)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[Any],
                      properties: Any) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("ingestion.subscribe_refused", reasons=[str(code) for code in reason_codes])
            return
        self._retry_delay = 1.0
        log.info("ingestion.subscribed", topic=events_subscription(self.settings))
        self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._subscribed.clear()
        log.info("ingestion.disconnected", reason=str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            result = self.process(message.topic, bytes(message.payload))
        except Exception:
            # process() handles its own failures, so this only guards the loop against a bug.
            log.exception("ingestion.unexpected_error", topic=message.topic[:MAX_LOGGED_TEXT])
            result = None
        if result is None:
            self._redelivery_needed = True
            return
        client.ack(message.mid, message.qos)
        if result.outcome == "stored" and self.on_stored is not None:
            try:
                self.on_stored()
            except Exception:
                log.exception("ingestion.on_stored_failed", event_id=result.event_id)

    # Processing

    def process(self, topic: str, payload: bytes) -> IngestResult | None:
        """Ingest one message with retries. Return None when the broker must deliver it again."""
        attempts = self.settings.mqtt_ingest_attempts
        attempt = 1
        while True:
            try:
                with session_scope(self.engine, write_lock=True) as session:
                    return ingest_message(session, topic, payload, settings=self.settings)
            except Exception as caught:  # noqa: BLE001 - every failure is retried, then sorted below
                error = caught
                log.warning("ingestion.attempt_failed", attempt=attempt, attempts=attempts,
                            topic=topic[:MAX_LOGGED_TEXT], error=repr(caught)[:MAX_LOGGED_TEXT])
            if attempt >= attempts or self._stopping.wait(0.2 * attempt):
                break
            attempt += 1

        # A worker that stops leaves the message to the next one rather than judge it early.
        if _is_transient(error) or self._stopping.is_set():
            metrics.ingestion_outcomes.increment("deferred")
            log.error("ingestion.deferred", topic=topic[:MAX_LOGGED_TEXT], error=repr(error)[:500])
            return None
        log.error("ingestion.processing_failed", topic=topic[:MAX_LOGGED_TEXT],
                  payload=payload[:4096].decode("ascii", "backslashreplace"), exc_info=error)
        try:
            with session_scope(self.engine, write_lock=True) as session:
                store_rejection(session, topic, payload, Reason.PROCESSING_FAILED,
                                f"{type(error).__name__}: {error}", device_id_from_events_topic(topic))
        except Exception as storing_error:  # noqa: BLE001 - any failure here defers the message
            log.error("ingestion.deferred", topic=topic[:MAX_LOGGED_TEXT], error=repr(storing_error)[:500])
            metrics.ingestion_outcomes.increment("deferred")
            return None
        return IngestResult("rejected", reason=Reason.PROCESSING_FAILED.value,
                            device_id=device_id_from_events_topic(topic))


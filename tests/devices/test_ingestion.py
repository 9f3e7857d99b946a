"""ingest_message without a broker: checks, rejections, exactly-once storage, letters."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from backend.collection.models import ReminderLetter
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import utcnow
from backend.devices import ingestion, metrics, service
from backend.devices.ingestion import ingest_message
from backend.devices.models import Device
from backend.devices.protocol import events_topic, sign_event
from backend.invoicing.models import TimelineEntry
from tests.devices.conftest import (
    event_fields,
    make_letter,
    make_owner,
    rejections,
    signed_payload,
    stored_events,
)

KEY = bytes(range(32))
DEVICE = "stk-ingest"
TOPIC = events_topic(DEVICE)


@pytest.fixture
def device_engine(db_settings):
    """A registered device on SQLite, then PostgreSQL."""
    engine = core_db.get_engine(db_settings.database_url)
    with session_scope(engine) as session:
        service.register_device(session, device_id=DEVICE, key=KEY)
    return engine


@pytest.fixture
def sqlite_device_engine(sqlite_settings, engine):
    """A registered device on SQLite, for checks that do not depend on the database."""
    with session_scope(engine) as session:
        service.register_device(session, device_id=DEVICE, key=KEY)
    return engine


def ingest(engine, payload: bytes, topic: str = TOPIC, **options):
    with session_scope(engine, write_lock=True) as session:
        return ingest_message(session, topic, payload, **options)


def raw(fields: dict) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def test_valid_event_is_stored(device_engine):
    before = utcnow()
    result = ingest(device_engine, signed_payload(KEY, DEVICE, 1, "heartbeat", state="idle", batt=3900))

    assert result.outcome == "stored"
    assert result.seq == 1
    events = stored_events(device_engine)
    assert len(events) == 1
    event = events[0]
    assert event.id == result.event_id
    assert (event.device_id, event.seq, event.event_type) == (DEVICE, 1, "heartbeat")
    assert event.device_uptime_ms == 1001
    assert event.queued_ms == 0
    assert event.received_at >= before
    assert event.payload["batt"] == 3900
    assert len(event.payload["sig"]) == 64
    with session_scope(device_engine) as session:
        device = session.get(Device, DEVICE)
        assert device.last_seen_at == event.received_at
        assert device.state == "idle"
        assert device.firmware_version == "1.0.0"
        assert device.last_seq == 1


def test_rejections_store_reason_not_event(device_engine):
    good = sign_event(KEY, event_fields(DEVICE, 7))
    unknown = sign_event(KEY, event_fields("stk-unknown", 7))
    other_device = sign_event(KEY, event_fields("stk-someone-else", 7))
    cases = [
        ("bad_signature", TOPIC, raw({**good, "sig": "0" * 64})),
        ("bad_signature", TOPIC, raw({**good, "up": good["up"] + 1})),
        ("unknown_device", events_topic("stk-unknown"), raw(unknown)),
        ("topic_mismatch", TOPIC, raw(other_device)),
        ("invalid_json", TOPIC, raw(good)[:-12]),
        ("invalid_json", TOPIC, b"\xff\xfe not utf-8"),
        ("invalid_json", TOPIC, b"[1, 2, 3]"),
        ("invalid_json", TOPIC, b"[" * 3000),
        ("payload_too_large", TOPIC, b"{" + b" " * 1_000_000 + b"}"),
        ("invalid_topic", "ikki/v1/stickers/stk-ingest/status", raw(good)),
        ("unsupported_version", TOPIC, raw(sign_event(KEY, {**event_fields(DEVICE, 7), "v": 2}))),
        ("invalid_fields", TOPIC, raw({name: value for name, value in good.items() if name != "seq"})),
    ]
    before = metrics.rejection_counts.snapshot()

    for reason, topic, payload in cases:
        result = ingest(device_engine, payload, topic)
        assert result.outcome == "rejected", reason
        assert result.reason == reason

    assert stored_events(device_engine) == []
    stored = rejections(device_engine)
    assert [row.reason for row in stored] == [reason for reason, _, _ in cases]
    assert all(len(row.payload_excerpt) <= 200 for row in stored)
    assert stored[0].device_id == DEVICE
    assert stored[2].device_id == "stk-unknown"
    assert stored[8].detail.startswith("1000002 bytes")
    after = metrics.rejection_counts.snapshot()
    assert after.get("bad_signature", 0) - before.get("bad_signature", 0) == 2
    assert after.get("payload_too_large", 0) - before.get("payload_too_large", 0) == 1
    with session_scope(device_engine) as session:
        assert session.get(Device, DEVICE).last_seen_at is None

    assert ingest(device_engine, raw(good)).outcome == "stored"
    assert [event.seq for event in stored_events(device_engine)] == [7]


def test_nul_in_topic_is_stored_escaped(device_engine):
    topic = events_topic("stk-\x00nul")

    result = ingest(device_engine, signed_payload(KEY, DEVICE, 1), topic)

    assert result.reason == "topic_mismatch"
    stored = rejections(device_engine)[0]
    assert stored.topic == "ikki/v1/stickers/stk-\\x00nul/events"
    assert "\x00" not in stored.detail
    assert stored.device_id == "stk-\\x00nul"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"seq": "1"}, "seq must be an integer"),
        ({"seq": True}, "seq must be an integer"),
        ({"up": 1.5}, "up must be an integer"),
        ({"dev": 5}, "dev must be a string"),
        ({"seq": -1}, "seq is out of range"),
        ({"seq": 2**63}, "seq is out of range"),
        ({"age": 10**15}, "age must be between"),
        ({"type": "Opened!"}, "type must be"),
        ({"fw": ""}, "fw must be"),
        ({"extra": {"nested": 1}}, "extra must be an integer or ASCII text"),
        ({"extra": [1]}, "extra must be an integer or ASCII text"),
        ({"extra": None}, "extra must be an integer or ASCII text"),
        ({"extra": "ümlaut"}, "extra must be an integer or ASCII text"),
        ({"Bad-Name": 1}, "field name"),
        ({"state": "ARMED"}, "state must be"),
        ({"state": 3}, "state must be"),
    ],
)
def test_malformed_fields_are_rejected(sqlite_device_engine, change, detail):
    fields = {**event_fields(DEVICE, 3), **change}
    fields["sig"] = "0" * 64

    result = ingest(sqlite_device_engine, raw(fields))

    assert result.reason == "invalid_fields"
    assert detail in rejections(sqlite_device_engine)[0].detail
    assert stored_events(sqlite_device_engine) == []


def test_same_event_twice_is_stored_once(device_engine):
    payload = signed_payload(KEY, DEVICE, 11, "armed")
    before = metrics.ingestion_outcomes["duplicate"]

    first = ingest(device_engine, payload)
    second = ingest(device_engine, payload)

    assert first.outcome == "stored"
    assert second.outcome == "duplicate"
    assert second.event_id == first.event_id
    assert len(stored_events(device_engine)) == 1
    assert rejections(device_engine) == []
    assert metrics.ingestion_outcomes["duplicate"] == before + 1


def test_event_resent_with_new_send_fields_is_duplicate(sqlite_device_engine):
    # The journal signs an event again on every sending attempt, with the fields of that attempt.
    ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 12, "opened", age=0, light=900))
    resent = ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 12, "opened", age=45_000, light=900,
                                                         dropped=2, fw="1.0.1"))

    assert resent.outcome == "duplicate"
    events = stored_events(sqlite_device_engine)
    assert len(events) == 1
    assert events[0].queued_ms == 0
    assert "dropped" not in events[0].payload


def test_empty_reported_state_is_accepted(sqlite_device_engine):
    ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 1, "armed"))
    result = ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 2, "heartbeat", state="", batt_mv=3700))

    assert result.outcome == "stored"
    with session_scope(sqlite_device_engine) as session:
        assert session.get(Device, DEVICE).state == "armed"


def test_other_event_under_stored_sequence_is_replay(device_engine):
    ingest(device_engine, signed_payload(KEY, DEVICE, 20, "heartbeat"))
    replay = ingest(device_engine, signed_payload(KEY, DEVICE, 20, "opened"))
    same_type_other_time = ingest(device_engine, signed_payload(KEY, DEVICE, 20, "heartbeat", up=5))

    assert replay.outcome == "rejected"
    assert replay.reason == "replayed_sequence"
    assert same_type_other_time.reason == "replayed_sequence"
    assert [event.event_type for event in stored_events(device_engine)] == ["heartbeat"]
    assert [row.reason for row in rejections(device_engine)] == ["replayed_sequence", "replayed_sequence"]
    assert ingest(device_engine, signed_payload(KEY, DEVICE, 21, "opened")).outcome == "stored"


def test_concurrent_copies_store_one_event(device_engine):
    rounds = 5
    for seq in range(100, 100 + rounds):
        payload = signed_payload(KEY, DEVICE, seq, "opened")
        barrier = threading.Barrier(3)
        outcomes: list[str] = []

        def deliver(barrier=barrier, outcomes=outcomes, payload=payload) -> None:
            barrier.wait()
            outcomes.append(ingest(device_engine, payload).outcome)

        threads = [threading.Thread(target=deliver) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["duplicate", "duplicate", "stored"], seq

    assert len(stored_events(device_engine)) == rounds


def test_older_event_keeps_newer_state(sqlite_device_engine):
    ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 5, "armed"))
    ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 3, "heartbeat", state="idle", fw="0.9.0"))

    with session_scope(sqlite_device_engine) as session:
        device = session.get(Device, DEVICE)
        assert device.state == "armed"
        assert device.last_seq == 5
        assert device.firmware_version == "1.0.0"
    assert [event.seq for event in stored_events(sqlite_device_engine)] == [5, 3]


# Letters


@pytest.fixture
def linked(device_engine):
    """The device claimed and linked to a reminder letter."""
    with session_scope(device_engine) as session:
        owner_id = make_owner(session)
        service.claim_device(session, owner_id, session.get(Device, DEVICE).claim_code)
        letter = make_letter(session, owner_id)
        service.link_to_letter(session, owner_id, DEVICE, letter.id)
    return letter


@pytest.fixture
def listener_calls():
    calls: list[tuple] = []

    def listener(session, device, event, letter) -> None:
        calls.append((device.device_id, event.id, event.event_type,
                      letter.id if letter else None, letter.opened_event_id if letter else None))

    ingestion.opened_listeners.append(listener)
    yield calls
    ingestion.opened_listeners.remove(listener)


def timeline(engine, invoice_id: int) -> list[TimelineEntry]:
    with session_scope(engine) as session:
        statement = select(TimelineEntry).where(TimelineEntry.invoice_id == invoice_id).order_by(TimelineEntry.id)
        return list(session.exec(statement).all())


def test_opened_marks_letter_and_notifies(device_engine, linked, listener_calls):
    received_at = utcnow()

    result = ingest(device_engine, signed_payload(KEY, DEVICE, 30, "opened", age=5000), received_at=received_at)

    assert result.outcome == "stored"
    with session_scope(device_engine) as session:
        letter = session.get(ReminderLetter, linked.id)
        assert letter.opened_at == received_at - timedelta(milliseconds=5000)
        assert letter.opened_event_id == result.event_id
        assert session.get(Device, DEVICE).state == "opened"
    assert listener_calls == [(DEVICE, result.event_id, "opened", linked.id, result.event_id)]
    opened_entries = [entry for entry in timeline(device_engine, linked.invoice_id) if entry.kind == "letter_opened"]
    assert len(opened_entries) == 1

    later = ingest(device_engine, signed_payload(KEY, DEVICE, 31, "opened"))
    with session_scope(device_engine) as session:
        assert session.get(ReminderLetter, linked.id).opened_event_id == result.event_id
    assert listener_calls[1] == (DEVICE, later.event_id, "opened", linked.id, result.event_id)


def test_unlinked_opened_passes_no_letter(sqlite_device_engine, listener_calls):
    result = ingest(sqlite_device_engine, signed_payload(KEY, DEVICE, 40, "opened"))

    assert result.outcome == "stored"
    assert listener_calls == [(DEVICE, result.event_id, "opened", None, None)]


def test_failing_listener_rolls_message_back(device_engine, linked):
    def failing(session, device, event, letter) -> None:
        raise RuntimeError("simulated listener bug")

    ingestion.opened_listeners.append(failing)
    try:
        with pytest.raises(RuntimeError):
            ingest(device_engine, signed_payload(KEY, DEVICE, 50, "opened"))
    finally:
        ingestion.opened_listeners.remove(failing)

    assert stored_events(device_engine) == []
    with session_scope(device_engine) as session:
        assert session.get(ReminderLetter, linked.id).opened_at is None


def test_armed_event_records_timeline(device_engine, linked):
    received_at = utcnow()

    ingest(device_engine, signed_payload(KEY, DEVICE, 60, "armed", age=2000), received_at=received_at)

    armed = [entry for entry in timeline(device_engine, linked.invoice_id) if entry.kind == "sticker_armed"]
    assert len(armed) == 1
    assert armed[0].at == received_at - timedelta(milliseconds=2000)
    assert armed[0].data["device_id"] == DEVICE

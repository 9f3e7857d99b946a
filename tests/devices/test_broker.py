"""The embedded amqtt broker with its plugins, and ingestion through it."""

from __future__ import annotations

import json
import socket

import pytest

from backend.core.db import session_scope
from backend.devices import service
from backend.devices.broker import EmbeddedBroker
from backend.devices.protocol import config_topic, events_topic, mqtt_password
from tests.devices.conftest import (
    MqttTestClient,
    device_client,
    publish_event,
    rejections,
    signed_payload,
    stored_events,
    wait_for,
)


@pytest.fixture
def two_devices(sqlite_settings, engine):
    with session_scope(engine) as session:
        first, first_key = service.register_device(session, device_id="stk-broker-a")
        second, second_key = service.register_device(session, device_id="stk-broker-b")
    return (first.device_id, first_key), (second.device_id, second_key)


def test_broker_authenticates_devices_and_backend(sqlite_settings, embedded_broker, mqtt_clients, two_devices):
    (device_id, key), _ = two_devices
    port = sqlite_settings.mqtt_port

    accepted = [
        mqtt_clients(port, device_id, mqtt_password(key), client_id=device_id),
        mqtt_clients(port, sqlite_settings.mqtt_username, sqlite_settings.mqtt_password),
    ]
    refused = {
        "anonymous": mqtt_clients(port, None, None, expect_refused=True),
        "wrong device password": mqtt_clients(port, device_id, mqtt_password(bytes(32)), expect_refused=True,
                                              client_id=device_id),
        "unknown device": mqtt_clients(port, "stk-nobody", mqtt_password(key), expect_refused=True,
                                       client_id="stk-nobody"),
        "wrong backend password": mqtt_clients(port, sqlite_settings.mqtt_username, "guess", expect_refused=True),
    }

    taking_over = MqttTestClient(port, device_id, mqtt_password(key), client_id="ingestion-under-test")
    try:
        refused["client id of another client"] = taking_over
        taking_over.connect()
    finally:
        taking_over.close()

    for client in accepted:
        assert not client.reason_code.is_failure
    for case, client in refused.items():
        assert client.reason_code.is_failure, case
    denials = embedded_broker.denial_counts()
    assert denials["client_id_mismatch"] == 1
    assert denials["anonymous"] == 1
    assert denials["bad_password"] == 2
    assert denials["unknown_user"] == 1


def test_device_is_confined_to_own_topics(sqlite_settings, embedded_broker, mqtt_clients, two_devices,
                                          start_ingestion):
    (device_id, key), (other_id, other_key) = two_devices
    ingestion = start_ingestion()
    device = device_client(mqtt_clients, sqlite_settings.mqtt_port, device_id, key)

    # A valid event of the other device, published on the other device's topic by this one.
    device.publish(events_topic(other_id), signed_payload(other_key, other_id, 1))
    granted_other = device.subscribe(config_topic(other_id))
    granted_wildcard = device.subscribe("ikki/v1/stickers/+/events")
    granted_own = device.subscribe(config_topic(device_id))
    publish_event(device, key, device_id, 1)

    wait_for(lambda: stored_events(ingestion.engine), description="the device's own event")
    assert [(event.device_id, event.seq) for event in stored_events(ingestion.engine)] == [(device_id, 1)]
    assert rejections(ingestion.engine) == []
    assert granted_other[0].is_failure
    assert granted_wildcard[0].is_failure
    assert not granted_own[0].is_failure
    denials = embedded_broker.denial_counts()
    assert denials["publish_denied"] == 1
    assert denials["subscribe_denied"] == 2


def test_broker_rejections_then_valid_event(sqlite_settings, embedded_broker, mqtt_clients,
                                                    two_devices, start_ingestion):
    (device_id, key), (other_id, other_key) = two_devices
    ingestion = start_ingestion()
    device = device_client(mqtt_clients, sqlite_settings.mqtt_port, device_id, key)
    backend = mqtt_clients(sqlite_settings.mqtt_port, sqlite_settings.mqtt_username, sqlite_settings.mqtt_password)
    topic = events_topic(device_id)
    good = signed_payload(key, device_id, 1)

    device.publish(topic, good)
    forged = json.loads(good)
    forged["seq"] = 3
    device.publish(topic, json.dumps(forged).encode())
    device.publish(topic, signed_payload(key, device_id, 1, "opened"))
    device.publish(topic, good[: len(good) // 2])
    device.publish(topic, b"{" + b" " * 1_000_000 + b"}")
    device.publish(topic, signed_payload(other_key, other_id, 5))
    device.publish(events_topic(other_id), signed_payload(other_key, other_id, 6))
    # Only a client with wider rights, such as the backend user, can reach an unknown device's topic.
    backend.publish(events_topic("stk-unregistered"), signed_payload(key, "stk-unregistered", 1))
    device.publish(topic, signed_payload(key, device_id, 2))

    expected = ["bad_signature", "replayed_sequence", "invalid_json", "payload_too_large",
                "topic_mismatch", "unknown_device"]
    wait_for(lambda: len(stored_events(ingestion.engine)) == 2 and len(rejections(ingestion.engine)) == len(expected),
             description="two events and six rejections")
    assert [(event.seq, event.event_type) for event in stored_events(ingestion.engine)] == [(1, "heartbeat"), (2, "heartbeat")]
    assert sorted(row.reason for row in rejections(ingestion.engine)) == sorted(expected)
    assert embedded_broker.denial_counts()["publish_denied"] == 1


def test_same_event_delivered_twice_is_stored_once(sqlite_settings, embedded_broker, mqtt_clients, two_devices,
                                                   start_ingestion):
    (device_id, key), _ = two_devices
    ingestion = start_ingestion()
    device = device_client(mqtt_clients, sqlite_settings.mqtt_port, device_id, key)

    payload = publish_event(device, key, device_id, 7, "opened")
    device.publish(events_topic(device_id), payload)
    publish_event(device, key, device_id, 7, "opened", age=3000)
    publish_event(device, key, device_id, 8)

    wait_for(lambda: any(event.seq == 8 for event in stored_events(ingestion.engine)), description="event 8")
    assert [event.seq for event in stored_events(ingestion.engine)] == [7, 8]
    assert rejections(ingestion.engine) == []


def test_queued_events_reach_returning_ingestion(sqlite_settings, embedded_broker, mqtt_clients, two_devices,
                                                  start_ingestion):
    (device_id, key), _ = two_devices
    first = start_ingestion(client_id="ingestion-persistent")
    first.stop()
    device = device_client(mqtt_clients, sqlite_settings.mqtt_port, device_id, key)

    publish_event(device, key, device_id, 1, "opened")
    publish_event(device, key, device_id, 2)
    assert stored_events(first.engine) == []
    second = start_ingestion(client_id="ingestion-persistent")

    wait_for(lambda: len(stored_events(second.engine)) == 2, description="the events queued while ingestion was away")
    assert [event.seq for event in stored_events(second.engine)] == [1, 2]


def test_broker_stops_and_frees_port(sqlite_settings):
    broker = EmbeddedBroker(sqlite_settings)
    broker.start()
    broker.stop()

    with socket.socket() as probe:
        probe.bind((sqlite_settings.mqtt_host, sqlite_settings.mqtt_port))
    again = EmbeddedBroker(sqlite_settings)
    again.start()
    again.stop()


def test_broker_start_fails_on_taken_port(sqlite_settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = EmbeddedBroker(sqlite_settings, host="127.0.0.1", port=port)
        with pytest.raises(RuntimeError, match="failed to start"):
            broker.start()


def test_failing_processing_is_stored_and_acknowledged(sqlite_settings, embedded_broker, mqtt_clients,
                                                       two_devices, start_ingestion, monkeypatch):
    from backend.devices import ingestion as ingestion_module

    def failing_listener(session, device, event, letter) -> None:
        raise RuntimeError("simulated listener bug")

    monkeypatch.setattr(ingestion_module, "opened_listeners", [failing_listener])
    (device_id, key), _ = two_devices
    ingestion = start_ingestion()
    device = device_client(mqtt_clients, sqlite_settings.mqtt_port, device_id, key)

    publish_event(device, key, device_id, 1, "opened")
    publish_event(device, key, device_id, 2)

    wait_for(lambda: stored_events(ingestion.engine), description="the event after the failing one")
    assert [event.seq for event in stored_events(ingestion.engine)] == [2]
    failed = rejections(ingestion.engine)
    assert [row.reason for row in failed] == ["processing_failed"]
    assert "simulated listener bug" in failed[0].detail


def test_ingestion_reconnects_after_broker_restart(sqlite_settings, mqtt_clients, two_devices):
    from backend.devices.ingestion import Ingestion

    (device_id, key), _ = two_devices
    ingestion = Ingestion(sqlite_settings, client_id="ingestion-reconnecting")
    ingestion.start()
    try:
        assert not ingestion.wait_until_subscribed(0.5)
        with EmbeddedBroker(sqlite_settings):
            assert ingestion.wait_until_subscribed(10)
        wait_for(lambda: not ingestion.wait_until_subscribed(0), description="ingestion to notice the stop")
        with EmbeddedBroker(sqlite_settings):
            assert ingestion.wait_until_subscribed(10)
            device = device_client(mqtt_clients, sqlite_settings.mqtt_port, device_id, key)
            publish_event(device, key, device_id, 1)
            wait_for(lambda: stored_events(ingestion.engine), description="the event after the restart")
    finally:
        ingestion.stop()

    assert [event.seq for event in stored_events(ingestion.engine)] == [1]

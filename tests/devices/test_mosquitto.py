"""Ingestion through a Mosquitto 2 that uses ikki's password and ACL files."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from backend.core.db import session_scope
from backend.devices import ingestion as ingestion_module
from backend.devices import service
from backend.devices.cli import mosquitto_config_command
from backend.devices.mosquitto import password_hash, password_matches
from backend.devices.protocol import config_topic, events_topic, mqtt_password
from tests.devices.conftest import (
    device_client,
    publish_event,
    rejections,
    signed_payload,
    stored_events,
    wait_for,
)

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def two_devices(sqlite_settings, engine):
    with session_scope(engine) as session:
        first, first_key = service.register_device(session, device_id="stk-mosq-a")
        second, second_key = service.register_device(session, device_id="stk-mosq-b")
    return (first.device_id, first_key), (second.device_id, second_key)


def test_password_hash_round_trip():
    hashed = password_hash("secret123", salt=bytes(12))

    assert hashed.startswith("$7$101$AAAAAAAAAAAAAAAA$")
    assert password_matches("secret123", hashed)
    assert not password_matches("secret124", hashed)


def test_password_hash_reads_mosquitto_passwd_output():
    # Written by mosquitto_passwd 2.0.11: mosquitto_passwd -c -b file alice secret123
    written = ("$7$101$d58CCl9tnCa+U7aY$tgey7eMUWXwSKtCdAlRu4GPZZ/VJfHXPuk6QJVX3kg+qnzKWlur3KNzyPKUyMzLX"
               "s7kAo/yqUHIDlBS2Uu6Tfg==")

    assert password_matches("secret123", written)
    assert not password_matches("secret12", written)


def test_cli_writes_config_files(sqlite_settings, two_devices, tmp_path):
    directory = tmp_path / "mosquitto"

    result = CliRunner().invoke(mosquitto_config_command, ["--dir", str(directory), "--port", "18830",
                                                           "--device-port", "18831", "--device-bind", "0.0.0.0"])

    assert result.exit_code == 0, result.output
    assert "2 sticker(s)" in result.output
    passwords = dict(line.split(":", 1) for line in (directory / "passwords").read_text().splitlines())
    backend = dict(line.split(":", 1) for line in (directory / "backend-passwords").read_text().splitlines())
    (first_id, first_key), _ = two_devices
    assert set(passwords) == {"stk-mosq-a", "stk-mosq-b"}
    assert set(backend) == {sqlite_settings.mqtt_username}
    assert password_matches(mqtt_password(first_key), passwords[first_id])
    assert password_matches(sqlite_settings.mqtt_password, backend[sqlite_settings.mqtt_username])
    assert oct((directory / "passwords").stat().st_mode & 0o777) == "0o600"
    assert oct((directory / "backend-passwords").stat().st_mode & 0o777) == "0o600"
    acl = (directory / "acl").read_text()
    assert f"user {first_id}\ntopic write ikki/v1/stickers/{first_id}/#\ntopic read {config_topic(first_id)}" in acl
    assert f"user {sqlite_settings.mqtt_username}\ntopic readwrite #" in acl
    config = (directory / "mosquitto.conf").read_text()
    backend_listener, device_listener = config.split("\nlistener ")[1:]
    assert backend_listener.startswith("18830 127.0.0.1\n")
    assert "allow_anonymous false" in backend_listener
    assert f"password_file {(directory / 'backend-passwords').resolve()}" in backend_listener
    assert device_listener.startswith("18831 0.0.0.0\n")
    assert "allow_anonymous false" in device_listener
    assert "use_username_as_clientid true" in device_listener
    assert f"password_file {(directory / 'passwords').resolve()}" in device_listener


def test_cli_needs_separate_device_port(sqlite_settings, two_devices, tmp_path):
    result = CliRunner().invoke(mosquitto_config_command, ["--dir", str(tmp_path), "--port", "18830",
                                                           "--device-port", "18830"])

    assert result.exit_code == 2
    assert "the stickers need a listener of their own" in result.output
    assert not (tmp_path / "passwords").exists()


def test_device_publishes_only_under_own_topic(sqlite_settings, two_devices, mosquitto, mqtt_clients,
                                               start_ingestion):
    (device_id, key), (other_id, other_key) = two_devices
    mosquitto.start()
    ingestion = start_ingestion(port=mosquitto.port)
    device = device_client(mqtt_clients, mosquitto.device_port, device_id, key)

    backend = mqtt_clients(mosquitto.port, sqlite_settings.mqtt_username, sqlite_settings.mqtt_password)

    # A validly signed event of the other device: ingestion would store it if it got it, but
    # Mosquitto acknowledges a denied publish and drops it.
    device.publish(events_topic(other_id), signed_payload(other_key, other_id, 1))
    # Mosquitto 2.0 grants any subscription and applies the ACL to each delivery.
    device.subscribe(config_topic(other_id))
    device.subscribe(config_topic(device_id))
    backend.publish(config_topic(other_id), b'{"volume":1}')
    backend.publish(config_topic(device_id), b'{"volume":2}')
    publish_event(device, key, device_id, 1)

    wait_for(lambda: stored_events(ingestion.engine), description="the device's own event")
    wait_for(lambda: device.received, description="the device's own configuration")
    assert [(event.device_id, event.seq) for event in stored_events(ingestion.engine)] == [(device_id, 1)]
    assert rejections(ingestion.engine) == []
    # The other device's configuration was published first on the same connection, so it
    # would have arrived before this device's own.
    assert device.received == [(config_topic(device_id), b'{"volume":2}')]


def test_wrong_credentials_are_refused(sqlite_settings, two_devices, mosquitto, mqtt_clients):
    (device_id, key), (other_id, other_key) = two_devices
    mosquitto.start()

    refused = {
        "anonymous": mqtt_clients(mosquitto.device_port, None, None, expect_refused=True),
        "other device's password": mqtt_clients(mosquitto.device_port, device_id, mqtt_password(other_key),
                                                expect_refused=True, client_id=device_id),
        "unknown device": mqtt_clients(mosquitto.device_port, "stk-nobody", mqtt_password(key),
                                       expect_refused=True, client_id="stk-nobody"),
        "device on the backend's listener": mqtt_clients(mosquitto.port, device_id, mqtt_password(key),
                                                         expect_refused=True, client_id=device_id),
        "backend on the stickers' listener": mqtt_clients(
            mosquitto.device_port, sqlite_settings.mqtt_username, sqlite_settings.mqtt_password,
            expect_refused=True),
        "anonymous on the backend's listener": mqtt_clients(mosquitto.port, None, None, expect_refused=True),
    }
    accepted = device_client(mqtt_clients, mosquitto.device_port, other_id, other_key)

    for case, client in refused.items():
        assert client.reason_code.is_failure, case
    assert not accepted.reason_code.is_failure


def test_new_device_connects_after_reload(sqlite_settings, engine, two_devices, mosquitto, mqtt_clients):
    mosquitto.start()
    with session_scope(engine) as session:
        device, key = service.register_device(session, device_id="stk-mosq-new")
    before = mqtt_clients(mosquitto.device_port, device.device_id, mqtt_password(key), expect_refused=True,
                          client_id=device.device_id)

    mosquitto.reload()
    after = device_client(mqtt_clients, mosquitto.device_port, device.device_id, key)

    assert before.reason_code.is_failure
    assert not after.reason_code.is_failure


def test_mosquitto_rejections_then_valid_event(sqlite_settings, two_devices, mosquitto, mqtt_clients,
                                                       start_ingestion):
    (device_id, key), (other_id, other_key) = two_devices
    mosquitto.start()
    ingestion = start_ingestion(port=mosquitto.port)
    device = device_client(mqtt_clients, mosquitto.device_port, device_id, key)
    topic = events_topic(device_id)
    good = signed_payload(key, device_id, 1)

    device.publish(topic, good)
    device.publish(topic, good)
    device.publish(topic, signed_payload(other_key, device_id, 2))
    device.publish(topic, signed_payload(key, device_id, 1, "opened"))
    device.publish(topic, good[:-20])
    device.publish(topic, signed_payload(other_key, other_id, 3))
    device.publish(topic, signed_payload(key, device_id, 4))

    expected = ["bad_signature", "replayed_sequence", "invalid_json", "topic_mismatch"]
    wait_for(lambda: len(stored_events(ingestion.engine)) == 2 and len(rejections(ingestion.engine)) == len(expected),
             description="two events and four rejections")
    assert [event.seq for event in stored_events(ingestion.engine)] == [1, 4]
    assert sorted(row.reason for row in rejections(ingestion.engine)) == sorted(expected)


def test_oversized_packet_is_dropped_by_broker(sqlite_settings, two_devices, mosquitto, mqtt_clients,
                                               start_ingestion):
    (device_id, key), _ = two_devices
    mosquitto.start()
    ingestion = start_ingestion(port=mosquitto.port)
    device = device_client(mqtt_clients, mosquitto.device_port, device_id, key)

    # max_packet_size makes Mosquitto disconnect the sender of a 1 MB packet.
    device.client.publish(events_topic(device_id), b"{" + b" " * 1_000_000 + b"}", qos=1)
    wait_for(lambda: not device.client.is_connected(), description="the broker to disconnect the sender")
    sender = device_client(mqtt_clients, mosquitto.device_port, device_id, key)
    publish_event(sender, key, device_id, 1)

    wait_for(lambda: stored_events(ingestion.engine), description="the event after the oversized packet")
    assert [event.seq for event in stored_events(ingestion.engine)] == [1]
    assert rejections(ingestion.engine) == []


def test_queued_events_reach_returning_ingestion(sqlite_settings, two_devices, mosquitto, mqtt_clients,
                                                  start_ingestion):
    (device_id, key), _ = two_devices
    mosquitto.start()
    first = start_ingestion(port=mosquitto.port, client_id="ingestion-persistent")
    first.stop()
    device = device_client(mqtt_clients, mosquitto.device_port, device_id, key)

    publish_event(device, key, device_id, 1, "opened")
    publish_event(device, key, device_id, 2)
    second = start_ingestion(port=mosquitto.port, client_id="ingestion-persistent")

    wait_for(lambda: len(stored_events(second.engine)) == 2, description="the events queued while ingestion was away")
    assert [event.seq for event in stored_events(second.engine)] == [1, 2]


def test_unacknowledged_message_is_delivered_again(sqlite_settings, two_devices, mosquitto, mqtt_clients,
                                                   start_ingestion, monkeypatch):
    (device_id, key), _ = two_devices
    monkeypatch.setattr(sqlite_settings, "mqtt_ingest_attempts", 2)
    real_ingest = ingestion_module.ingest_message
    failures = {"left": 3}

    def ingest_with_outage(session, topic, payload, **options):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT ...", {}, Exception("simulated: database is unreachable"))
        return real_ingest(session, topic, payload, **options)

    monkeypatch.setattr(ingestion_module, "ingest_message", ingest_with_outage)
    mosquitto.start()
    ingestion = start_ingestion(port=mosquitto.port)
    device = device_client(mqtt_clients, mosquitto.device_port, device_id, key)

    publish_event(device, key, device_id, 1, "opened")

    wait_for(lambda: stored_events(ingestion.engine), timeout=15, description="the event delivered again")
    assert failures["left"] == 0
    assert [event.seq for event in stored_events(ingestion.engine)] == [1]
    assert rejections(ingestion.engine) == []


def test_sticker_cannot_take_over_ingestion_session(sqlite_settings, two_devices, mosquitto, mqtt_clients,
                                                    start_ingestion):
    (device_id, key), (other_id, other_key) = two_devices
    mosquitto.start()
    first = start_ingestion(port=mosquitto.port, client_id="ingestion-persistent")
    first.stop()

    # A sticker whose key was read out of its flash, using ingestion's client id.
    intruder = mqtt_clients(mosquitto.device_port, device_id, mqtt_password(key), client_id="ingestion-persistent")
    sender = device_client(mqtt_clients, mosquitto.device_port, other_id, other_key)
    publish_event(sender, other_key, other_id, 1, "opened")
    second = start_ingestion(port=mosquitto.port, client_id="ingestion-persistent")

    wait_for(lambda: stored_events(second.engine), description="the event queued for ingestion")
    assert not intruder.connack_flags_session_present
    assert [(event.device_id, event.seq) for event in stored_events(second.engine)] == [(other_id, 1)]

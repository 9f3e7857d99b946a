from __future__ import annotations

from click.testing import CliRunner

from backend.core.db import session_scope
from backend.devices import service
from backend.devices.cli import mqtt, stickers_admin
from backend.devices.ingestion import ingest_message
from backend.devices.models import Device
from backend.devices.protocol import events_topic


def test_register_prints_working_key(sqlite_settings, engine):
    result = CliRunner().invoke(stickers_admin, ["register", "--device-id", "stk-cli", "--virtual"])

    assert result.exit_code == 0, result.output
    printed = dict(line.split(":", 1) for line in result.output.splitlines())
    with session_scope(engine) as session:
        device = session.get(Device, "stk-cli")
        assert device.is_virtual
        assert device.claim_code == printed["claim code"].strip()
        assert service.device_key(device).hex() == printed["key"].strip()


def test_list_and_rejections(sqlite_settings, engine):
    with session_scope(engine) as session:
        service.register_device(session, device_id="stk-listed")
    with session_scope(engine) as session:
        ingest_message(session, events_topic("stk-listed"), b"{not json")

    listed = CliRunner().invoke(stickers_admin, ["list"])
    rejected = CliRunner().invoke(stickers_admin, ["rejections", "--limit", "5"])

    assert listed.exit_code == 0, listed.output
    assert "stk-listed" in listed.output
    assert "owner=-" in listed.output
    assert rejected.exit_code == 0, rejected.output
    assert "invalid_json  device=stk-listed" in rejected.output


def test_mqtt_group_mounts_mosquitto_command():
    assert "write-mosquitto-config" in mqtt.commands
    assert {"broker", "ingest"} <= set(mqtt.commands)

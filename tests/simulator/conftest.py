"""Fixtures for virtual board tests: a Mosquitto broker with per-device passwords and an observer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.brokers import MOSQUITTO_HINT, MosquittoBroker, Subscriber, mosquitto_binary
from simulator.events import EVENTS_TOPIC, STATUS_TOPIC, mqtt_password
from simulator.upython import MicroPythonMissing, micropython_executable

DEVICE_ID = "stk-vb-0001"
KEY = bytes.fromhex("8f" * 16 + "3c" * 16)
OBSERVER = ("observer", "observer-password")


@pytest.fixture(scope="session")
def micropython_available() -> None:
    try:
        micropython_executable()
    except MicroPythonMissing as error:
        pytest.skip(str(error))


@pytest.fixture
def broker(micropython_available: None, tmp_path: Path) -> Iterator[MosquittoBroker]:
    if mosquitto_binary() is None:
        pytest.skip(f"mosquitto was not found: {MOSQUITTO_HINT}")
    users = {DEVICE_ID: mqtt_password(KEY), OBSERVER[0]: OBSERVER[1]}
    with MosquittoBroker(users=users, workdir=tmp_path / "mosquitto") as running:
        yield running


@pytest.fixture
def observer(broker: MosquittoBroker) -> Iterator[Subscriber]:
    topics = [EVENTS_TOPIC.format(device_id="+"), STATUS_TOPIC.format(device_id="+")]
    with Subscriber(broker.port, topics, *OBSERVER) as subscriber:
        yield subscriber


@pytest.fixture
def device() -> tuple[str, bytes]:
    """The virtual sticker's device id and key, known to the broker."""
    return DEVICE_ID, KEY

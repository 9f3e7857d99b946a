"""Uplink modes of the reporter: one-shot sessions against staying connected, on the unix port.

The firmware's Journal, Reporter and MQTT client run under MicroPython on a
virtual board's flash (simulated Wi-Fi, real TCP) against a real Mosquitto,
where an observer records the events and the retained online status.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simulator.brokers import MOSQUITTO_HINT, MosquittoBroker, Subscriber, mosquitto_binary
from simulator.events import EVENTS_TOPIC, STATUS_TOPIC, mqtt_password, verify
from simulator.upython import run_micropython
from simulator.vboard import HARDWARE_MODULES_DIR, VirtualBoard, make_config, parse_console_line

DEVICE_ID = "stk-one-shot"
KEY = bytes(range(1, 33))
OBSERVER = ("observer", "observer-password")

# Journals `first` events and delivers them, then one more; after each
# delivery a few more steps show whether the connection stays open. With
# `lose_puback`, the PUBACK of the second event is waited for under a packet
# id that never comes, so that wait times out as a lost PUBACK does.
DELIVER = """
import json
import time
import config
import log
from board import Board
from journal import Journal
from mqtt import MQTTClient
from reporter import Reporter
from seqno import SequenceStore
from signing import Signer

settings = config.load()
board = Board(settings.board)
log.set_clock(board.uptime_ms)
board.retained["rs"] = 7
journal = Journal()
sequence = SequenceStore()


class LosesSecondPuback(MQTTClient):
    events_sent = 0

    def _wait_for(self, expected_type, packet_id, description):
        if expected_type == 0x40:
            self.events_sent += 1
            if self.events_sent == 2:
                packet_id += 1000
        return super()._wait_for(expected_type, packet_id, description)


def record(number):
    journal.append({{"seq": sequence.next(), "type": "test", "up": board.uptime_ms(),
                     "rtc": board.rtc_ms(), "rs": 7, "f": {{"n": number}}}})


def deliver(reporter):
    deadline = board.uptime_ms() + 10000
    while len(journal) and board.uptime_ms() < deadline:
        reporter.step()
        time.sleep_ms(10)
    for _ in range(5):
        reporter.step()
        time.sleep_ms(10)
    return {{"pending": len(journal), "connected": reporter.connected, "wifi": board.wifi_connected()}}


for number in range({first}):
    record(number)
reporter = Reporter(board, settings, journal, Signer(settings.key))
if {lose_puback}:
    client = LosesSecondPuback(settings.device_id, user=settings.device_id,
                               password=reporter._client.password, timeout_ms=300)
    client.set_last_will(*reporter._client._will)
    reporter._client = client
first = deliver(reporter)
record({first})
second = deliver(reporter)
reporter.shutdown()
print(json.dumps({{"first": first, "second": second, "delivered": reporter.delivered,
                   "fails": board.retained.get("fails", 0)}}))
"""


@pytest.fixture
def broker(micropython_available, tmp_path: Path):
    if mosquitto_binary() is None:
        pytest.skip(f"mosquitto was not found: {MOSQUITTO_HINT}")
    users = {DEVICE_ID: mqtt_password(KEY), OBSERVER[0]: OBSERVER[1]}
    with MosquittoBroker(users=users, workdir=tmp_path / "mosquitto") as running:
        yield running


def _deliver(tmp_path: Path, broker, mode: str, first: int = 3, lose_puback: bool = False):
    board = VirtualBoard(
        tmp_path / "board",
        make_config(DEVICE_ID, KEY.hex(), mqtt_port=broker.port, uplink_mode=mode,
                    retry_min_s=0.2, retry_max_s=0.4, heartbeat_s=0),
    )
    board.install()
    (board.flash_dir / "deliver.py").write_text(
        DELIVER.format(first=first, lose_puback=lose_puback)
    )
    topics = [EVENTS_TOPIC.format(device_id=DEVICE_ID), STATUS_TOPIC.format(device_id=DEVICE_ID)]
    with Subscriber(broker.port, topics, *OBSERVER) as observer:
        result = run_micropython("deliver.py", cwd=board.flash_dir, path=[HARDWARE_MODULES_DIR],
                                 env=board.firmware_env(), timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        # The last status is published before the script ends; give it time to arrive.
        deadline = time.monotonic() + 2
        while observer.on_topic(topics[1])[-1:] != [b"asleep"] and time.monotonic() < deadline:
            time.sleep(0.02)
        events = [verify(payload, KEY) for payload in observer.on_topic(topics[0])]
        statuses = observer.on_topic(topics[1])
    lines = [parse_console_line(line) for line in result.stdout.splitlines()]
    logged = [entry for entry in lines if entry is not None]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    wifi = [event["active"] for event in board.hardware_events() if event["event"] == "wlan.active"]
    return outcome, events, statuses, logged, wifi


def test_one_shot_disconnects_when_journal_empties(tmp_path: Path, broker):
    outcome, events, statuses, logged, wifi = _deliver(tmp_path, broker, "one_shot")

    closed = [entry for entry in logged if entry["event"] == "report.session_closed"]
    assert outcome["first"] == {"pending": 0, "connected": False, "wifi": False}
    assert outcome["second"] == {"pending": 0, "connected": False, "wifi": False}
    assert outcome["delivered"] == 4
    assert [event["n"] for event in events] == [0, 1, 2, 3]
    # One connection per batch, each closed cleanly: no last will.
    assert statuses == [b"online", b"asleep", b"online", b"asleep"]
    assert [entry["delivered"] for entry in closed] == ["3", "1"]
    assert all(entry["mode"] == "one_shot" for entry in closed)
    assert wifi == [True, False, True, False]


def test_session_mode_stays_connected_while_awake(tmp_path: Path, broker):
    outcome, events, statuses, logged, wifi = _deliver(tmp_path, broker, "session")

    closed = [entry for entry in logged if entry["event"] == "report.session_closed"]
    assert outcome["first"] == {"pending": 0, "connected": True, "wifi": True}
    assert outcome["second"] == {"pending": 0, "connected": True, "wifi": True}
    assert [event["n"] for event in events] == [0, 1, 2, 3]
    # One connection for both batches, closed by shutdown().
    assert statuses == [b"online", b"asleep"]
    assert [(entry["mode"], entry["delivered"]) for entry in closed] == [("session", "4")]
    assert wifi == [True, False]


def test_one_shot_lost_puback_switches_wifi_off(tmp_path: Path, broker):
    outcome, events, statuses, logged, wifi = _deliver(
        tmp_path, broker, "one_shot", first=3, lose_puback=True
    )

    retries = [entry for entry in logged if entry["event"] == "report.retry"]
    assert len(retries) == 1
    assert retries[0]["stage"] == "publish"
    assert "PUBACK for packet" in retries[0]["error"]
    assert "timed out after 300 ms" in retries[0]["error"]
    assert outcome["first"] == {"pending": 0, "connected": False, "wifi": False}
    assert outcome["fails"] == 0
    # Event 1 reached the broker before its PUBACK was lost, and came again.
    assert sorted({event["n"] for event in events}) == [0, 1, 2, 3]
    # The failed connection ended without DISCONNECT: the broker published the will.
    assert statuses[:2] == [b"online", b"offline"]
    assert statuses[-1] == b"asleep"
    # Wi-Fi went off after the failure and after each delivered batch.
    assert wifi == [True, False, True, False, True, False]

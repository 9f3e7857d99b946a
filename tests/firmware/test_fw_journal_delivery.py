"""The journal keeps events while the broker is down; the reporter delivers them in order.

The firmware's Journal, Reporter and MQTT client run under MicroPython on a
virtual board's flash (simulated Wi-Fi, real TCP), against a real broker
that starts only after the device has failed and backed off twice.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from simulator.brokers import (
    MOSQUITTO_HINT,
    AmqttBroker,
    MosquittoBroker,
    Subscriber,
    free_port,
    mosquitto_binary,
)
from simulator.events import EVENTS_TOPIC, mqtt_password, verify
from simulator.upython import micropython_command
from simulator.vboard import VirtualBoard, make_config, parse_console_line

DEVICE_ID = "stk-journal"
KEY = bytes(range(32))
EVENT_COUNT = 5

DELIVER = """
import time
import config
import log
from board import Board
from journal import Journal
from reporter import Reporter
from seqno import SequenceStore
from signing import Signer

settings = config.load()
board = Board(settings.board)
log.set_clock(board.uptime_ms)
board.retained["rs"] = 7
journal = Journal()
sequence = SequenceStore()
for number in range({count}):
    journal.append({{"seq": sequence.next(), "type": "test", "up": board.uptime_ms(), "rtc": board.rtc_ms(),
                     "rs": 7, "f": {{"n": number}}}})
log.info("test.journaled", pending=len(journal))
reporter = Reporter(board, settings, journal, Signer(settings.key))
deadline = board.uptime_ms() + {deadline_ms}
while len(journal) and board.uptime_ms() < deadline:
    reporter.step()
    time.sleep_ms(10)
log.info("test.done", pending=len(journal), delivered=reporter.delivered)
"""


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_entry(lines: queue.Queue, event: str, timeout: float, seen: list[str]) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(
                f"no {event} line within {timeout} s; output so far:\n{''.join(seen)}"
            )
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(
                f"the script ended before a {event} line; output:\n{''.join(seen)}"
            )
        seen.append(line)
        entry = parse_console_line(line)
        if entry is not None and entry["event"] == event:
            return entry


def _start_broker(kind: str, port: int, workdir: Path):
    if kind == "mosquitto":
        if mosquitto_binary() is None:
            pytest.skip(f"mosquitto was not found: {MOSQUITTO_HINT}")
        return MosquittoBroker(
            port,
            users={DEVICE_ID: mqtt_password(KEY), "observer": "observer-password"},
            workdir=workdir,
        ).start()
    return AmqttBroker(port).start()


@pytest.mark.parametrize("broker_kind", ["mosquitto", "amqtt"])
def test_journal_waits_for_broker_then_delivers_in_order(
    micropython_available, tmp_path: Path, broker_kind: str
):
    port = free_port()
    board = VirtualBoard(
        tmp_path / "board",
        make_config(
            DEVICE_ID, KEY.hex(), mqtt_port=port, retry_min_s=0.5, retry_max_s=4, heartbeat_s=0
        ),
    )
    board.install()
    (board.flash_dir / "deliver.py").write_text(
        DELIVER.format(count=EVENT_COUNT, deadline_ms=20000)
    )
    process = subprocess.Popen(
        micropython_command("deliver.py"),
        cwd=board.flash_dir,
        env=board.firmware_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    broker = None
    try:
        first_retry = _next_entry(lines, "report.retry", 10, seen)
        second_retry = _next_entry(lines, "report.retry", 10, seen)
        # Freeze the device while the broker and the observer start, so its
        # next attempt cannot come before the observer subscribed.
        process.send_signal(signal.SIGSTOP)
        journal_files = sorted(path.name for path in (board.flash_dir / "journal.d").glob("*.json"))

        broker = _start_broker(broker_kind, port, tmp_path / "broker")
        credentials = (
            ("observer", "observer-password") if broker_kind == "mosquitto" else (None, None)
        )
        with Subscriber(port, [EVENTS_TOPIC.format(device_id="+")], *credentials) as subscriber:
            process.send_signal(signal.SIGCONT)
            done = _next_entry(lines, "test.done", 20, seen)
            payloads = subscriber.wait_for(EVENTS_TOPIC.format(device_id=DEVICE_ID), EVENT_COUNT, 5)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        if broker is not None:
            broker.stop()

    assert first_retry["stage"] == "connect"
    assert int(second_retry["failures"]) == 2
    assert int(second_retry["delay_ms"]) > int(first_retry["delay_ms"])
    assert len(journal_files) == EVENT_COUNT
    assert done["pending"] == "0"
    assert done["delivered"] == str(EVENT_COUNT)
    assert process.returncode == 0
    events = [verify(payload, KEY) for payload in payloads]
    assert [event["n"] for event in events] == list(range(EVENT_COUNT))
    assert [event["seq"] for event in events] == sorted(event["seq"] for event in events)
    assert len({event["seq"] for event in events}) == EVENT_COUNT
    assert all(event["dev"] == DEVICE_ID and event["type"] == "test" for event in events)
    # The events waited in the journal through the failed attempts, and their age shows it.
    assert all(event["age"] >= 500 for event in events)
    assert list((board.flash_dir / "journal.d").glob("*.json")) == []

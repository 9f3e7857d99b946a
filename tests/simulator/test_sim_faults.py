"""Faults on the virtual board: power cuts during an opening and a broker outage.

The real firmware runs on the MicroPython unix port against Mosquitto. Every
payload the broker passed on goes through the backend's own ingestion
(ingest_message on a fresh SQLite database), so "stored once" is the
backend's verdict, not the test's.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlmodel import select

from backend.core.db import session_scope
from backend.devices import service
from backend.devices.ingestion import ingest_message
from backend.devices.models import DeviceEvent, RejectedMessage
from backend.devices.protocol import events_topic
from simulator.events import EVENTS_TOPIC, verify
from simulator.vboard import VirtualBoard, make_config

# Power cuts from the light edge on, 20 ms apart: they land in the wake-up,
# the boot, the debounce, the cry start, the journal write, the connection,
# the PUBLISH and after the PUBACK.
CUT_DELAYS_S = [index * 0.02 for index in range(20)]


def _config(device: tuple[str, bytes], port: int, **settings) -> dict:
    device_id, key = device
    values = {
        "arm_delay_s": 0.2,
        "debounce_ms": 50,
        "cry_max_s": 0.6,
        "cry_stop_dark_s": 0.1,
        "volume": 100,
        "heartbeat_s": 0,
        "retry_min_s": 0.1,
        "retry_max_s": 0.5,
    }
    values.update(settings)
    return make_config(device_id, key.hex(), mqtt_port=port, **values)


def _wait_until(condition, timeout: float, description: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{description} not reached within {timeout} s")
        time.sleep(0.02)


def _wait_armed_asleep(board: VirtualBoard, timeout: float = 15.0) -> None:
    _wait_until(
        lambda: board.state()["state"] == "armed" and board.state()["process"] == "sleeping",
        timeout,
        "armed deep sleep",
    )


def _opened_seqs(observer, device) -> set[int]:
    device_id, key = device
    seqs = set()
    for payload in observer.on_topic(EVENTS_TOPIC.format(device_id=device_id)):
        event = verify(payload, key)
        if event["type"] == "opened":
            seqs.add(event["seq"])
    return seqs


def _stage_at_cut(board: VirtualBoard, since: int) -> str:
    # The last firmware log line before the supervisor's "power cut" note.
    text = board.console_path.read_bytes()[since:].decode(errors="replace")
    before_cut = text.split("--- vboard: power cut", 1)[0]
    stage = "asleep"
    for line in before_cut.splitlines():
        if line.startswith("--- vboard: boot"):
            stage = "boot"
            continue
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit():
            stage = parts[2] if parts[2] != "state" else "state " + line.split("state=")[-1]
    return stage


def _ingest_all(engine, device, observer) -> list[str]:
    device_id, key = device
    with session_scope(engine) as session:
        service.register_device(session, device_id=device_id, key=key, is_virtual=True)
    outcomes = []
    for payload in observer.on_topic(EVENTS_TOPIC.format(device_id=device_id)):
        with session_scope(engine) as session:
            outcomes.append(ingest_message(session, events_topic(device_id), payload).outcome)
    return outcomes


def test_power_cuts_never_lose_or_double_an_opening(
    tmp_path: Path, broker, observer, device, engine
):
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port))
    board.install()
    board.close_envelope()
    stages = []
    board.start()
    try:
        for round_index, delay_s in enumerate(CUT_DELAYS_S):
            _wait_armed_asleep(board)
            mark = board.console_size()
            board.open_envelope()
            time.sleep(delay_s)
            board.power_cut(off_s=0.0)
            stages.append(_stage_at_cut(board, mark))
            _wait_until(
                lambda expected=round_index + 1: len(_opened_seqs(observer, device)) >= expected,
                15,
                f"the opened event of round {round_index} (cut after {delay_s:.2f} s)",
            )
            board.close_envelope()
        _wait_armed_asleep(board)
    finally:
        board.stop()

    outcomes = _ingest_all(engine, device, observer)
    with session_scope(engine) as session:
        opened = session.exec(select(DeviceEvent).where(DeviceEvent.event_type == "opened")).all()
        rejected = session.exec(select(RejectedMessage)).all()

    assert len(_opened_seqs(observer, device)) == len(CUT_DELAYS_S), stages
    assert len(opened) == len(CUT_DELAYS_S), stages
    assert rejected == []
    assert set(outcomes) <= {"stored", "duplicate"}
    # The cuts must have hit several stages, or the test proves little.
    assert len(set(stages)) >= 4, stages


def test_broker_outage_delays_but_keeps_the_opening(
    tmp_path: Path, broker, observer, device, engine
):
    # A 10 s outage with deliveries retried between 1 and 8 s: long enough
    # that the sticker backs off into timer-woken deep sleep in between. The
    # 5-minute outage of the field is the same path with longer waits (the
    # firmware's retry_max_s defaults to 900 s); it is not run in real time.
    outage_s = 10.0
    board = VirtualBoard(
        tmp_path / "board", _config(device, broker.port, retry_min_s=1, retry_max_s=8)
    )
    board.install()
    board.close_envelope()
    board.start()
    try:
        _wait_armed_asleep(board)
        broker.stop()
        down_at = time.monotonic()
        mark = board.console_size()
        board.open_envelope()
        board.wait_for_state("crying", 5)
        board.close_envelope()
        time.sleep(max(0.0, outage_s - (time.monotonic() - down_at)))
        retries = [e for e in board.console_events(mark) if e["event"] == "report.retry"]
        timer_boots = board.console_path.read_text().count("wake reason timer")
        broker.start()
        up_at = time.monotonic()
        observer.wait_subscribed(5)
        _wait_until(lambda: _opened_seqs(observer, device), 15, "the opened event")
        delivered_after_s = time.monotonic() - up_at
        _wait_armed_asleep(board)
    finally:
        board.stop()

    outcomes = _ingest_all(engine, device, observer)
    with session_scope(engine) as session:
        opened = session.exec(select(DeviceEvent).where(DeviceEvent.event_type == "opened")).all()

    assert len(retries) >= 2
    assert timer_boots >= 1
    # Delivered at the next retry: at most retry_max_s plus its 25 % jitter.
    assert delivered_after_s < 8 * 1.25 + 3
    assert len(opened) == 1
    assert opened[0].queued_ms >= (outage_s - 2) * 1000
    assert set(outcomes) <= {"stored", "duplicate"}

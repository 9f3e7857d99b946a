"""Faults on the virtual board: power cuts during an opening and a broker outage.

The real firmware runs on the MicroPython unix port against Mosquitto. Every
payload the broker passed on goes through the backend's own ingestion
(ingest_message on a fresh SQLite database), so "stored once" is the
backend's verdict, not the test's.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlmodel import select

from backend.core.db import session_scope
from backend.devices import service
from backend.devices.ingestion import ingest_message
from backend.devices.models import DeviceEvent, RejectedMessage
from backend.devices.protocol import events_topic
from simulator.events import EVENTS_TOPIC, verify
from simulator.vboard import VirtualBoard, make_config

# Where the power is cut: right after this line shows on the console (None:
# right after the light edge, before the chip woke), plus an offset. 7 stages
# times 3 offsets, less one, make 20 points from the light edge to the PUBACK.
CUT_STAGES = [
    None,
    "--- vboard: boot",
    " state=crying",
    " event.recorded ",
    " wifi.connect ",
    " mqtt.connected ",
    " event.delivered ",
]
CUT_OFFSETS_S = [0.0, 0.004, 0.012]
CUT_POINTS = [(stage, offset) for offset in CUT_OFFSETS_S for stage in CUT_STAGES][:20]


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


def _wait_for_console(board: VirtualBoard, since: int, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with board.console_path.open("rb") as stream:
            stream.seek(since)
            if text.encode() in stream.read():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not on the console within {timeout} s")
        time.sleep(0.001)


def _ingest_all(engine, device, observer) -> list[str]:
    device_id, key = device
    with session_scope(engine) as session:
        service.register_device(session, device_id=device_id, key=key, is_virtual=True)
    outcomes = []
    for payload in observer.on_topic(EVENTS_TOPIC.format(device_id=device_id)):
        with session_scope(engine) as session:
            outcomes.append(ingest_message(session, events_topic(device_id), payload).outcome)
    return outcomes


@pytest.mark.parametrize("flash", ["directory", "image"])
def test_power_cuts_never_lose_or_double_an_opening(
    tmp_path: Path, broker, observer, device, engine, flash
):
    # In flash mode "image" every cut also hits littlefs mid-write: the next
    # boot must mount the image again and find the journal and the sequence
    # numbers in it.
    board = VirtualBoard(tmp_path / "board", _config(device, broker.port), flash=flash)
    board.install()
    board.close_envelope()
    board.start()
    try:
        for round_index, (stage, offset_s) in enumerate(CUT_POINTS):
            _wait_armed_asleep(board)
            mark = board.console_size()
            board.open_envelope()
            if stage is not None:
                _wait_for_console(board, mark, stage)
            time.sleep(offset_s)
            board.power_cut(off_s=0.0)
            _wait_until(
                lambda expected=round_index + 1: len(_opened_seqs(observer, device)) >= expected,
                15,
                f"the opened event of round {round_index} (cut {offset_s} s after {stage!r})",
            )
            board.close_envelope()
        _wait_armed_asleep(board)
    finally:
        board.stop()

    outcomes = _ingest_all(engine, device, observer)
    with session_scope(engine) as session:
        opened = session.exec(select(DeviceEvent).where(DeviceEvent.event_type == "opened")).all()
        rejected = session.exec(select(RejectedMessage)).all()

    console = board.console_path.read_text()
    assert "does not mount" not in console
    assert "Traceback" not in console
    assert {"seq.a", "seq.b"} <= set(board.flash_files())
    assert len(_opened_seqs(observer, device)) == len(CUT_POINTS)
    assert len(opened) == len(CUT_POINTS)
    assert rejected == []
    assert set(outcomes) <= {"stored", "duplicate"}


# The outage alone lasts 5 minutes, the run's per-test limit.
@pytest.mark.timeout(480)
def test_broker_outage_delays_but_keeps_the_opening(
    tmp_path: Path, broker, observer, device, engine
):
    # A real 5-minute outage. Deliveries back off from 1 s to at most 60 s
    # (the field default of retry_max_s is 900 s, which would only stretch the
    # wait after the outage), and the sticker sleeps on its timer in between.
    outage_s = 300.0
    retry_max_s = 60
    board = VirtualBoard(
        tmp_path / "board", _config(device, broker.port, retry_min_s=1, retry_max_s=retry_max_s)
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
        during_outage = board.console_events(mark)
        broker.start()
        up_at = time.monotonic()
        observer.wait_subscribed(5)
        _wait_until(lambda: _opened_seqs(observer, device), retry_max_s * 1.25 + 10, "the opened event")
        delivered_after_s = time.monotonic() - up_at
        _wait_armed_asleep(board)
    finally:
        board.stop()

    outcomes = _ingest_all(engine, device, observer)
    with session_scope(engine) as session:
        opened = session.exec(select(DeviceEvent).where(DeviceEvent.event_type == "opened")).all()

    retries = [entry for entry in during_outage if entry["event"] == "report.retry"]
    sleeps = [entry for entry in during_outage if entry["event"] == "sleep"]
    delays_ms = [int(entry["delay_ms"]) for entry in retries]
    # Backing off from 1 s to 60 s takes 7 retries, then one a minute.
    assert len(retries) >= 8
    assert delays_ms[0] <= 1000 * 1.25
    assert max(delays_ms) >= retry_max_s * 1000 * 0.75
    assert max(delays_ms) <= retry_max_s * 1000 * 1.25
    # It slept with the events in its journal, woken by the retry timer.
    assert any(int(entry["pending"]) >= 1 and int(entry["timer_ms"]) > 0 for entry in sleeps)
    # Delivered at the next retry: at most retry_max_s plus its 25 % jitter.
    assert delivered_after_s < retry_max_s * 1.25 + 3
    assert len(opened) == 1
    assert opened[0].queued_ms >= (outage_s - 2) * 1000
    assert set(outcomes) <= {"stored", "duplicate"}

"""The board through its serial line: REPL, identity, light, sound, battery, MQTT, journal, sleep."""

from __future__ import annotations

import re
import time

import pytest

from provisioning.jig import OperatorJig
from provisioning.repl import BoardRepl
from provisioning.selftest import (
    _PLAY,
    _PUBLISH,
    BATTERY_MAX_MV,
    BATTERY_MIN_MV,
    SOUND_MIN_RMS,
    TEST_SOUND_BYTES,
)
from simulator.vboard import FIRMWARE_DIR


def test_repl_executes_code(repl):
    assert repl.run("print(6 * 7)").strip() == "42"


def test_repl_reports_errors(repl):
    from provisioning.errors import StationError

    with pytest.raises(StationError) as raised:
        repl.run("raise ValueError('from the board')")

    assert "from the board" in str(raised.value)


def test_firmware_version_matches_source(repl):
    expected = re.search(r'FW_VERSION\s*=\s*"([^"]+)"', (FIRMWARE_DIR / "version.py").read_text()).group(1)

    assert repl.evaluate("__import__('version').FW_VERSION") == expected


def test_identity_on_board(repl, hardware):
    config = repl.read_config()

    assert config["device_id"] == hardware.config["device_id"]
    assert len(config["key"]) == 64
    assert repl.evaluate("config.load().device_id") == hardware.config["device_id"]


@pytest.mark.jig
def test_light_dark(repl, jig):
    jig.set_dark()
    time.sleep(0.05)

    level, pin = repl.evaluate("[_board.light_level(), _board.light_pin()]")

    assert level < 9000
    assert pin == 0


@pytest.mark.jig
def test_light_bright(repl, jig):
    jig.set_bright()
    time.sleep(0.05)

    level, pin = repl.evaluate("[_board.light_level(), _board.light_pin()]")

    assert level >= 12000
    assert pin == 1


@pytest.mark.operator
def test_speaker_plays_cry(repl, jig):
    jig.start_listening()

    output = repl.run(_PLAY.format(size=TEST_SOUND_BYTES))

    assert output.strip().endswith("played")
    if isinstance(jig, OperatorJig):
        assert jig.confirm_sound()
    else:
        assert jig.sound_level() >= SOUND_MIN_RMS


def test_battery_in_range(repl):
    millivolts = repl.evaluate("_board.battery_mv()")

    assert BATTERY_MIN_MV <= millivolts <= BATTERY_MAX_MV


def test_mqtt_publish_acknowledged(repl, hardware):
    host, port = hardware.broker
    device_id = hardware.config["device_id"]

    output = repl.run(_PUBLISH.format(host=host, port=port, client_id=f"{device_id}-hwtest",
                                      topic=f"ikki/v1/stickers/{device_id}/hwtest", payload=b"{}"))

    assert int(output.strip().splitlines()[-1]) > 0


def test_journal_survives_reset(hardware):
    with hardware.repl() as before:
        seq = before.evaluate(
            "(lambda j, s: (lambda n: (j.append({'seq': n, 'type': 'hwtest'}), n)[1])(s.next()))"
            "(__import__('journal').Journal(), __import__('seqno').SequenceStore())"
        )

    with hardware.repl() as after:  # opening the REPL soft-resets the interpreter
        seqs = after.evaluate("__import__('journal').Journal().seqs()")
        next_seq = after.evaluate("__import__('seqno').SequenceStore().next()")

    assert seq in seqs
    assert next_seq > seq


@pytest.mark.real_board
def test_wake_reason_after_deep_sleep(hardware):
    # main.py is set aside for one wake-up, so the board stops at the REPL
    # instead of running the firmware, which would sleep again at once. The
    # USB serial line drops while the board sleeps for 2 s.
    with hardware.repl() as session:
        session.run("import os\nos.rename('main.py', 'main.py.off')")
        session.transport.exec_raw_no_follow("import machine\nmachine.deepsleep(2000)")
    time.sleep(6)

    with BoardRepl(hardware.port, soft_reset=False) as session:
        wake_reason = session.evaluate("__import__('machine').wake_reason()")
        session.run("import os\nos.rename('main.py.off', 'main.py')")

    assert wake_reason == 4  # machine.TIMER_WAKE on the ESP32 port

"""The fleet simulator: scenario files, the plan they draw, and a real fleet run.

The run starts Mosquitto on the configuration the backend writes, `ikki mqtt ingest` in
its own process and a virtual board per sticker running the real firmware, then checks
that the backend stored every opening once and invented none.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.brokers import MOSQUITTO_HINT, mosquitto_binary
from simulator.fleet import (
    Fleet,
    ScenarioError,
    StickerRecord,
    build_report,
    format_report,
    load_scenario,
    parse_scenario,
    plan,
)
from simulator.fleet_cli import fleet
from simulator.vboard import REPO_ROOT

SMALL = """
[fleet]
stickers = 16
seed = 5
time_scale = 20000

[calendar]
start = 2027-01-04T08:00:00
posting_days = 1
transit_days = [1, 1]
open_delay_days = [0, 1]

[debtors]
never_opened = 0.2
opened_twice = 0.3
second_opening_after_days = [1, 1]
reading_seconds = [0.8, 1.2]
sorting_flash_share = 0.5

[stickers]
heartbeat_hours = 24
arm_delay_s = 0.5
debounce_ms = 150
cry_max_s = 2
cry_stop_dark_s = 0.3
"""


def _scenario(text: str = SMALL, **changes):
    data = tomllib.loads(text)
    for dotted, value in changes.items():
        table, key = dotted.split("__")
        data.setdefault(table, {})[key] = value
    return parse_scenario(data, "test.toml")


# Scenario files


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"fleet__stickers": 0}, "test.toml [fleet]: stickers must be a whole number from 1 to 100000, got 0"),
        ({"fleet__time_scale": "fast"}, "time_scale must be a number"),
        ({"calendar__transit_days": [3, 1]}, "transit_days must be [min, max]"),
        ({"calendar__working_days": ["monday"]}, "working_days must be a list of day names"),
        ({"calendar__start": "next monday"}, "start must be a local date and time"),
        ({"debtors__never_opened": 0.8, "debtors__opened_twice": 0.3}, "add up to more than 1"),
        ({"debtors__sorting_flash_ms": 100}, "must be under a quarter of [stickers] debounce_ms"),
        ({"debtors__reading_seconds": [0.2, 1]}, "shorter than twice [stickers] debounce_ms"),
        ({"stickers__heartbeat_s": 60}, "heartbeat_s is set by the fleet simulator"),
        ({"stickers__mqtt_port": 1883}, "mqtt_port is set by the fleet simulator"),
        ({"stickers__volume_db": 3}, "volume_db is not a sticker setting"),
        ({"debtors__opened_thrice": 0.1}, "unknown key 'opened_thrice'"),
        ({"stickers__arm_delay_s": -1}, "arm_delay_s must be a number of seconds from 0 to 86400, got -1"),
        ({"stickers__uplink": "lte"}, "runs its stickers over Wi-Fi only"),
        ({"stickers__after_cry": "finish"}, "set opened_twice to 0 or use 'rearm'"),
    ],
)
def test_scenario_bad_value_named(change, expected):
    with pytest.raises(ScenarioError) as raised:
        _scenario(**change)
    assert expected in str(raised.value)


def test_scenario_invalid_toml_rejected(tmp_path: Path):
    path = tmp_path / "broken.toml"
    path.write_text("[fleet\nstickers = 3\n")
    with pytest.raises(ScenarioError, match=r"broken.toml is not valid TOML"):
        load_scenario(path)


def test_scenario_shipped_file_loads():
    scenario = load_scenario(REPO_ROOT / "simulator" / "scenarios" / "office-fortnight.toml")
    assert scenario.stickers == 1000
    assert scenario.heartbeat_s == pytest.approx(336.0)


def test_plan_follows_calendar_and_seed():
    scenario = _scenario(SMALL, fleet__stickers=400)
    plans = plan(scenario)
    assert plans == plan(scenario), "the same seed must draw the same fleet"
    assert plans != plan(replace(scenario, seed=6))
    first, last = scenario.office_hours
    for sticker in plans:
        for opening in sticker.openings:
            assert opening.at.weekday() < 5, f"{sticker.device_id} opened on a weekend"
            assert first <= opening.at.hour + opening.at.minute / 60 <= last
            assert opening.at.date() >= sticker.delivered_on > sticker.posted_at.date()
            assert 0.8 <= opening.reading_s <= 1.2
        if len(sticker.openings) == 2:
            assert sticker.openings[1].at.date() > sticker.openings[0].at.date()
        if sticker.flash_at is not None:
            assert sticker.posted_at < sticker.flash_at
            assert sticker.flash_at < datetime.combine(sticker.delivered_on, datetime.min.time()) + timedelta(hours=6)
    profiles = [sticker.profile for sticker in plans]
    # 400 draws: the shares are near those of the scenario.
    assert 0.12 < profiles.count("never") / 400 < 0.28
    assert 0.22 < profiles.count("twice") / 400 < 0.38


# The report's checks


def _report(stored_types, recorded=None, delivered=None, openings_done=1):
    scenario = _scenario(SMALL, fleet__stickers=1)
    plans = plan(scenario)
    device_id = plans[0].device_id
    record = StickerRecord(device_id, openings_real=[1_800_000_000.0] * openings_done)
    recorded = recorded if recorded is not None else {1: "boot", 2: "armed", 3: "opened"}
    console = {
        device_id: {
            "recorded": recorded,
            "delivered": set(delivered if delivered is not None else recorded),
            "resent": 0,
            "wake_ignored": 0,
        }
    }
    received = datetime.fromtimestamp(1_800_000_000.5, UTC)
    stored = [
        {"device_id": device_id, "seq": seq, "type": kind, "received_at": received}
        for seq, kind in stored_types.items()
    ]
    return build_report(scenario, plans, {device_id: record}, console, stored, 0,
                        prepared_s=0, ran_s=0, peak_awake=0)


def test_report_passes_when_views_agree():
    report = _report({1: "boot", 2: "armed", 3: "opened"})
    assert report["checks"]["ok"]
    assert report["timing"]["opening_to_stored_s"]["median"] == pytest.approx(0.5)
    assert "every opening stored once, none invented" in format_report(report)


def test_report_fails_on_lost_opening():
    report = _report({1: "boot", 2: "armed"})
    assert not report["checks"]["ok"]
    assert report["checks"]["openings_lost"] and report["checks"]["events_delivered_not_stored_count"] == 1
    assert "MISMATCH" in format_report(report)


def test_report_fails_on_invented_event():
    report = _report({1: "boot", 2: "armed", 3: "opened", 4: "opened"})
    assert not report["checks"]["ok"]
    assert report["checks"]["openings_invented"]
    assert report["checks"]["events_stored_not_recorded_count"] == 1


def test_report_fails_on_unrecorded_opening():
    report = _report({1: "boot", 2: "armed"}, recorded={1: "boot", 2: "armed"})
    assert not report["checks"]["ok"]
    assert report["firmware"]["openings_not_recorded"]


# A real fleet


@pytest.fixture
def mosquitto_installed(micropython_available) -> None:
    if mosquitto_binary() is None:
        pytest.skip(f"mosquitto was not found: {MOSQUITTO_HINT}")


def test_fleet_run_stores_openings_once(tmp_path: Path, mosquitto_installed):
    scenario = _scenario()
    runner = Fleet(scenario, tmp_path / "fleet", drain_timeout_s=60)
    report = runner.run()

    planned = sum(len(sticker.openings) for sticker in runner.plans)
    assert report["fleet_did"]["openings"] == planned > 0
    assert report["firmware"]["opened_recorded"] == planned
    assert report["backend"]["opened_stored"] == planned
    assert report["backend"]["events_stored"] == report["firmware"]["events_recorded"]
    assert report["backend"]["events_by_type"]["boot"] == scenario.stickers
    assert report["backend"]["events_by_type"].get("heartbeat", 0) > 0
    assert report["backend"]["rejected_messages"] == 0
    # Every flash on a sleeping sticker woke it and was ignored: none became an opening.
    assert report["fleet_did"]["sorting_flashes_on_sleeping_stickers"] > 0
    assert report["firmware"]["wake_ups_ignored"] >= report["fleet_did"]["sorting_flashes_on_sleeping_stickers"]
    assert report["checks"]["ok"], format_report(report)


# The command line


def test_plan_command_prints_draw(tmp_path: Path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    result = CliRunner().invoke(fleet, ["plan", str(path), "--stickers", "40"])
    assert result.exit_code == 0, result.output
    assert '"stickers": 40' in result.output


def test_run_command_names_bad_value(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("never_opened = 0.2", "never_opened = 2"))
    result = CliRunner().invoke(fleet, ["run", str(path), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 1
    assert "never_opened must be a number from 0 to 1, got 2" in result.output


def test_run_command_rejects_used_folder(tmp_path: Path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    used = tmp_path / "used"
    used.mkdir()
    (used / "fleet.db").write_text("")
    result = CliRunner().invoke(fleet, ["run", str(path), "--work-dir", str(used)])
    assert result.exit_code == 1
    assert "is not empty" in result.output


def test_run_sigterm_leaves_no_process(tmp_path: Path, mosquitto_installed):
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    work_dir = tmp_path / "work"
    process = subprocess.Popen(
        [sys.executable, "-c", "from backend.cli import main; main()", "fleet", "run", str(scenario),
         "--work-dir", str(work_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("running "):
                break
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Mosquitto names the work folder on its command line; ingestion runs in it.
    left = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            text = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = str((proc / "cwd").resolve())
        except OSError:
            continue
        if str(work_dir) in text or cwd.startswith(str(work_dir)):
            left.append(text)
    assert process.returncode != 0
    assert left == []

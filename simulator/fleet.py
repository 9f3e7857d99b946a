"""Fleet simulator: many virtual stickers at once against a broker and the backend's ingestion.

A scenario file (TOML, see simulator/scenarios/) describes the letters: how many, when
they are posted and how many days they spend in the post. It gives when debtors open them
(office hours on working days), which are never opened or opened twice, and which see a
flash of light in a sorting centre. plan() turns it into a timeline per sticker, drawn
from the scenario's seed, so the same file gives the same fleet.

Fleet.run() then does what the scenario says with real parts: the backend's database
(migrated as in production) holds the stickers' registrations; Mosquitto runs on the
configuration the backend writes (per-device passwords and ACL); `ikki mqtt ingest` runs
in its own process; every sticker is a VirtualBoard running the real firmware on the
MicroPython unix port. The calendar is compressed by `time_scale` (simulated seconds per
real second); the firmware's own timers run in real time, so the heartbeat interval is
given to the stickers already divided by the scale.

The report compares three views of every sticker:
- what the fleet did: openings (light long enough to read a letter) and sorting flashes;
- what the firmware recorded and delivered, from each board's console;
- what the backend stored, from its database.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from simulator.vboard import (
    LIGHT_CLOSED,
    LIGHT_OPEN,
    VirtualBoard,
    VirtualBoardError,
    make_config,
    parse_console_line,
)

log = structlog.get_logger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEVICE_PREFIX = "fleet-"
# A board supervisor that sleeps looks at the wake pin this often; the fleet's own
# controls wake it at once (VirtualBoard.wake_poll_s).
_FLEET_WAKE_POLL_S = 5.0
# The firmware's watchdog times out after 30 s: checking it and the interpreter's exit
# five times a second is plenty, and keeps the supervisors of a large fleet cheap.
_FLEET_RUN_POLL_S = 0.2
_PROGRESS_EVERY_S = 15.0
_CRY_WAIT_S = 30.0
# Light is set this long after the power-on before the envelope is sealed.
_SEAL_AFTER_S = 0.3
# An opening waits at most this long (real time) for its sticker to be armed.
_ARMED_WAIT_S = 60.0
_READY_STATES = ("armed",)
# config.json keys that the fleet writes itself.
_SET_BY_FLEET = {"device_id", "key", "mqtt_host", "mqtt_port", "heartbeat_s"}


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the key and the value."""


# Scenario


@dataclass(frozen=True)
class Scenario:
    stickers: int = 100
    seed: int = 1
    # Simulated seconds per real second.
    time_scale: float = 3600.0
    start: datetime = datetime(2027, 1, 4, 8, 0)
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    office_hours: tuple[float, float] = (9.0, 17.0)
    posting_days: int = 3
    transit_days: tuple[int, int] = (1, 3)
    open_delay_days: tuple[int, int] = (0, 2)
    never_opened: float = 0.15
    opened_twice: float = 0.10
    second_opening_after_days: tuple[int, int] = (1, 4)
    reading_s: tuple[float, float] = (1.0, 2.0)
    sorting_flash_share: float = 0.2
    sorting_flash_ms: int = 10
    heartbeat_hours: float = 72.0
    # config.json settings of every sticker (real seconds).
    sticker_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def heartbeat_s(self) -> float:
        return self.heartbeat_hours * 3600 / self.time_scale


DEFAULT_STICKER_SETTINGS: dict[str, Any] = {
    "arm_delay_s": 0.5,
    "debounce_ms": 150,
    "cry_max_s": 3,
    "cry_stop_dark_s": 0.3,
    "retry_min_s": 0.5,
    "retry_max_s": 20,
    "report_window_s": 20,
    "after_cry": "rearm",
}


def _where(source: str, key: str) -> str:
    return f"{source}: {key}"


def _number(table: dict[str, Any], key: str, source: str, default: float, low: float,
            high: float, integer: bool = False) -> Any:
    value = table.get(key, default)
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
        integer and not isinstance(value, int)
    ) or not low <= value <= high:
        raise ScenarioError(f"{_where(source, key)} must be {kind} from {low} to {high}, got {value!r}")
    return value


def _pair(table: dict[str, Any], key: str, source: str, default: tuple[Any, Any], low: float,
          high: float, integer: bool = False) -> tuple[Any, Any]:
    value = table.get(key, list(default))
    kind = "whole numbers" if integer else "numbers"
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(item, bool) or not isinstance(item, (int, float)) for item in value)
        or (integer and any(not isinstance(item, int) for item in value))
        or not low <= value[0] <= value[1] <= high
    ):
        raise ScenarioError(
            f"{_where(source, key)} must be [min, max], two {kind} with {low} <= min <= max "
            f"<= {high}, got {value!r}"
        )
    return value[0], value[1]


def _known_keys(table: dict[str, Any], allowed: set[str], source: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(
            f"{source}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(allowed))}"
        )


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ScenarioError(f"{source}: [{name}] must be a table, got {table!r}")
    return table


def parse_scenario(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Build a Scenario from the tables of a scenario file, checking every value."""
    _known_keys(data, {"fleet", "calendar", "debtors", "stickers"}, source)
    fleet = _table(data, "fleet", source)
    calendar = _table(data, "calendar", source)
    debtors = _table(data, "debtors", source)
    stickers = _table(data, "stickers", source)
    defaults = Scenario()
    _known_keys(fleet, {"stickers", "seed", "time_scale"}, f"{source} [fleet]")
    _known_keys(
        calendar,
        {"start", "working_days", "office_hours", "posting_days", "transit_days", "open_delay_days"},
        f"{source} [calendar]",
    )
    _known_keys(
        debtors,
        {"never_opened", "opened_twice", "second_opening_after_days", "reading_seconds",
         "sorting_flash_share", "sorting_flash_ms"},
        f"{source} [debtors]",
    )

    where = f"{source} [fleet]"
    count = _number(fleet, "stickers", where, defaults.stickers, 1, 100_000, integer=True)
    seed = _number(fleet, "seed", where, defaults.seed, 0, 2**32, integer=True)
    scale = _number(fleet, "time_scale", where, defaults.time_scale, 1, 1_000_000)

    where = f"{source} [calendar]"
    start = calendar.get("start", defaults.start)
    if not isinstance(start, datetime) or start.tzinfo is not None:
        raise ScenarioError(
            f"{_where(where, 'start')} must be a local date and time such as "
            f"2027-01-04T08:00:00 (no time zone), got {start!r}"
        )
    day_names = calendar.get("working_days", [WEEKDAYS[day] for day in defaults.working_days])
    if (
        not isinstance(day_names, list)
        or not day_names
        or any(name not in WEEKDAYS for name in day_names)
    ):
        raise ScenarioError(
            f"{_where(where, 'working_days')} must be a list of day names from "
            f"{', '.join(WEEKDAYS)}, got {day_names!r}"
        )
    working_days = tuple(sorted({WEEKDAYS.index(name) for name in day_names}))
    office_hours = _pair(calendar, "office_hours", where, defaults.office_hours, 0, 24)
    if office_hours[0] == office_hours[1]:
        raise ScenarioError(f"{_where(where, 'office_hours')} must not be empty, got {list(office_hours)!r}")
    posting_days = _number(calendar, "posting_days", where, defaults.posting_days, 1, 365, integer=True)
    transit = _pair(calendar, "transit_days", where, defaults.transit_days, 0, 60, integer=True)
    open_delay = _pair(calendar, "open_delay_days", where, defaults.open_delay_days, 0, 60, integer=True)

    where = f"{source} [debtors]"
    never = _number(debtors, "never_opened", where, defaults.never_opened, 0, 1)
    twice = _number(debtors, "opened_twice", where, defaults.opened_twice, 0, 1)
    if never + twice > 1:
        raise ScenarioError(
            f"{where}: never_opened ({never}) and opened_twice ({twice}) add up to more than 1"
        )
    second_after = _pair(debtors, "second_opening_after_days", where,
                         defaults.second_opening_after_days, 1, 60, integer=True)
    reading = _pair(debtors, "reading_seconds", where, defaults.reading_s, 0.1, 60)
    flash_share = _number(debtors, "sorting_flash_share", where, defaults.sorting_flash_share, 0, 1)
    flash_ms = _number(debtors, "sorting_flash_ms", where, defaults.sorting_flash_ms, 1, 1000, integer=True)

    where = f"{source} [stickers]"
    settings = dict(DEFAULT_STICKER_SETTINGS)
    heartbeat_hours = stickers.get("heartbeat_hours", defaults.heartbeat_hours)
    for key, value in stickers.items():
        if key == "heartbeat_hours":
            continue
        if key in _SET_BY_FLEET:
            raise ScenarioError(
                f"{_where(where, key)} is set by the fleet simulator; remove it from the scenario"
                + (" (give heartbeat_hours in simulated hours)" if key == "heartbeat_s" else "")
            )
        settings[key] = value
    heartbeat_hours = _number({"heartbeat_hours": heartbeat_hours}, "heartbeat_hours", where,
                              defaults.heartbeat_hours, 0, 30 * 24)
    debounce_ms = settings.get("debounce_ms", 200)
    if isinstance(debounce_ms, int) and flash_ms * 4 > debounce_ms:
        raise ScenarioError(
            f"{source}: [debtors] sorting_flash_ms ({flash_ms}) must be under a quarter of "
            f"[stickers] debounce_ms ({debounce_ms}), so that a flash is never long enough to count"
        )
    if reading[0] * 1000 < 2 * debounce_ms:
        raise ScenarioError(
            f"{source}: [debtors] reading_seconds starts at {reading[0]} s, shorter than twice "
            f"[stickers] debounce_ms ({debounce_ms} ms); a reading must be long enough to count"
        )
    scenario = Scenario(
        stickers=count, seed=seed, time_scale=float(scale), start=start,
        working_days=working_days, office_hours=(float(office_hours[0]), float(office_hours[1])),
        posting_days=posting_days, transit_days=transit, open_delay_days=open_delay,
        never_opened=float(never), opened_twice=float(twice),
        second_opening_after_days=second_after, reading_s=(float(reading[0]), float(reading[1])),
        sorting_flash_share=float(flash_share), sorting_flash_ms=flash_ms,
        heartbeat_hours=float(heartbeat_hours), sticker_settings=settings,
    )
    # The firmware checks its own config.json: check it here, before anything starts.
    _check_sticker_settings(scenario, where)
    return scenario


def _check_sticker_settings(scenario: Scenario, where: str) -> None:
    from simulator.vboard import firmware_defaults

    known = (set(firmware_defaults()) | {"cfg_v"}) - _SET_BY_FLEET
    for key in scenario.sticker_settings:
        if key not in known:
            raise ScenarioError(
                f"{_where(where, key)} is not a sticker setting; known settings: {', '.join(sorted(known))}"
            )
    if scenario.sticker_settings.get("uplink", "wifi") != "wifi":
        raise ScenarioError(
            f"{_where(where, 'uplink')}: the fleet simulator runs its stickers over Wi-Fi only; "
            "remove the key (one sticker over LTE-M: ikki sticker run --modem)"
        )
    if scenario.sticker_settings.get("after_cry") == "finish" and scenario.opened_twice:
        raise ScenarioError(
            f"{_where(where, 'after_cry')} is 'finish', so a sticker reports one opening only, "
            f"but [debtors] opened_twice is {scenario.opened_twice}; set opened_twice to 0 or use 'rearm'"
        )
    # The firmware's own checks of config.json, run here on CPython before anything starts.
    firmware_config = _firmware_config_module()
    settings = dict(scenario.sticker_settings, heartbeat_s=round(scenario.heartbeat_s, 3))
    try:
        firmware_config.Config(
            {"device_id": "fleet-check", "key": "00" * 32, "mqtt_host": "127.0.0.1", **settings}
        )
    except firmware_config.ConfigError as error:
        raise ScenarioError(f"{where}: {error}") from error
    if scenario.heartbeat_hours and scenario.heartbeat_s < 1:
        raise ScenarioError(
            f"{_where(where, 'heartbeat_hours')} ({scenario.heartbeat_hours}) is under one real "
            f"second at time_scale {scenario.time_scale}; use a longer interval or a smaller scale"
        )


def _firmware_config_module() -> Any:
    # firmware/config.py uses only modules that CPython has too (binascii, errno, json).
    import importlib.util

    from simulator.vboard import FIRMWARE_DIR

    spec = importlib.util.spec_from_file_location("ikki_firmware_config", FIRMWARE_DIR / "config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ScenarioError(f"cannot read the scenario file {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path} is not valid TOML: {error}") from error
    return parse_scenario(data, str(path))


# Plan


@dataclass(frozen=True)
class Opening:
    at: datetime
    reading_s: float


@dataclass(frozen=True)
class StickerPlan:
    index: int
    device_id: str
    posted_at: datetime
    delivered_on: date
    openings: tuple[Opening, ...]
    flash_at: datetime | None

    @property
    def profile(self) -> str:
        return ("never", "once", "twice")[len(self.openings)]


def _working_day(scenario: Scenario, day: date, count: int) -> date:
    # The working day `count` working days after `day` (0: day itself, or the next one).
    while day.weekday() not in scenario.working_days:
        day += timedelta(days=1)
    for _ in range(count):
        day += timedelta(days=1)
        while day.weekday() not in scenario.working_days:
            day += timedelta(days=1)
    return day


def _office_time(scenario: Scenario, day: date, rng: random.Random) -> datetime:
    first, last = scenario.office_hours
    hours = rng.uniform(first, last)
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hours)


def plan(scenario: Scenario) -> list[StickerPlan]:
    """Draw every sticker's timeline from the scenario's seed."""
    rng = random.Random(scenario.seed)
    first_post_day = _working_day(scenario, scenario.start.date(), 0)
    plans = []
    for index in range(scenario.stickers):
        post_day = _working_day(scenario, first_post_day, rng.randrange(scenario.posting_days))
        posted_at = _office_time(scenario, post_day, rng)
        if posted_at < scenario.start:
            posted_at = scenario.start + timedelta(minutes=rng.uniform(0, 60))
        delivered_on = _working_day(scenario, post_day, max(1, rng.randint(*scenario.transit_days)))
        draw = rng.random()
        openings: list[Opening] = []
        if draw >= scenario.never_opened:
            opened_on = _working_day(scenario, delivered_on, rng.randint(*scenario.open_delay_days))
            openings.append(Opening(_office_time(scenario, opened_on, rng), rng.uniform(*scenario.reading_s)))
            if draw >= 1 - scenario.opened_twice:
                again_on = _working_day(
                    scenario, opened_on, rng.randint(*scenario.second_opening_after_days)
                )
                openings.append(Opening(_office_time(scenario, again_on, rng), rng.uniform(*scenario.reading_s)))
        flash_at = None
        if rng.random() < scenario.sorting_flash_share:
            # In the sorting centre: after the posting, before the morning of delivery.
            earliest = posted_at + timedelta(hours=1)
            latest = datetime.combine(delivered_on, datetime.min.time()) + timedelta(hours=6)
            if latest > earliest:
                flash_at = earliest + (latest - earliest) * rng.random()
        plans.append(StickerPlan(
            index=index, device_id=f"{DEVICE_PREFIX}{index + 1:05d}", posted_at=posted_at,
            delivered_on=delivered_on, openings=tuple(openings), flash_at=flash_at,
        ))
    return plans


def plan_summary(scenario: Scenario, plans: list[StickerPlan]) -> dict[str, Any]:
    last = max(
        [p.posted_at for p in plans]
        + [o.at for p in plans for o in p.openings]
        + [p.flash_at for p in plans if p.flash_at]
    )
    span = last - scenario.start
    return {
        "stickers": len(plans),
        "profiles": dict(Counter(p.profile for p in plans)),
        "openings": sum(len(p.openings) for p in plans),
        "sorting_flashes": sum(1 for p in plans if p.flash_at),
        "simulated_days": round(span.total_seconds() / 86400, 2),
        "real_seconds": round(span.total_seconds() / scenario.time_scale, 1),
    }


# Run


@dataclass
class StickerRecord:
    """The fleet's actions on one sticker, as it timed them."""

    device_id: str
    openings_real: list[float] = field(default_factory=list)  # wall-clock times (time.time())
    flash_ms: list[float] = field(default_factory=list)  # measured light time of each flash
    flashes_asleep: int = 0  # flashes that found the sticker armed in deep sleep
    opening_waits_s: list[float] = field(default_factory=list)
    openings_skipped: int = 0
    # How long after the planned end of each reading the sticker had not cried yet.
    cry_waits_s: list[float] = field(default_factory=list)
    # Flashes that lasted longer than half the debounce: the sticker may rightly cry.
    long_flashes: int = 0


@dataclass(order=True)
class _Action:
    at: float
    order: int
    kind: str = field(compare=False)
    index: int = field(compare=False)
    reading_s: float = field(default=0.0, compare=False)
    first_try: float = field(default=0.0, compare=False)
    console_offset: int = field(default=0, compare=False)


class FleetError(RuntimeError):
    pass


class Fleet:
    """Runs a scenario's stickers against Mosquitto and the backend's ingestion."""

    def __init__(
        self,
        scenario: Scenario,
        work_dir: Path,
        *,
        database_url: str | None = None,
        drain_timeout_s: float = 180.0,
    ) -> None:
        self.scenario = scenario
        self.work_dir = work_dir.resolve()
        self.database_url = database_url or f"sqlite:///{self.work_dir / 'fleet.db'}"
        self.drain_timeout_s = drain_timeout_s
        self.plans = plan(scenario)
        self.records = {p.device_id: StickerRecord(p.device_id) for p in self.plans}
        self.boards: list[VirtualBoard] = []
        self._keys: dict[str, bytes] = {}
        self._settings: Any = None
        self._mosquitto: subprocess.Popen[bytes] | None = None
        self._ingestion: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._peak_awake = 0
        # Monotonic time of the scenario's start, and the tie-breaker of queued actions.
        self._started_mono = 0.0
        self._order = 0

    # Backend side

    def _backend_settings(self) -> Any:
        from backend.core.settings import Settings
        from simulator.brokers import free_port

        return Settings(
            environment="test",
            data_dir=self.work_dir / "backend",
            database_url=self.database_url,
            mqtt_broker="external",
            mqtt_port=free_port(),
            mqtt_device_port=free_port(),
            mqtt_ingest_client_id="ikki-fleet-ingestion",
        )

    def _register(self) -> None:
        from backend.core import db as core_db
        from backend.core.db import session_scope
        from backend.devices import service

        settings = self._settings
        core_db.migrate(settings.database_url)
        engine = core_db.get_engine(settings.database_url)
        with session_scope(engine) as session:
            for sticker in self.plans:
                if service.get_device(session, sticker.device_id) is not None:
                    raise FleetError(
                        f"the database {settings.database_url} already contains {sticker.device_id}: "
                        "give the fleet an empty database (or a new --work-dir)"
                    )
                _, key = service.register_device(
                    session, device_id=sticker.device_id, is_virtual=True, settings=settings
                )
                self._keys[sticker.device_id] = key

    def _start_mosquitto(self) -> None:
        from backend.core import db as core_db
        from backend.core.db import session_scope
        from backend.devices.mosquitto import write_mosquitto_config
        from simulator.brokers import MOSQUITTO_HINT, BrokerError, mosquitto_binary, wait_for_port

        executable = mosquitto_binary()
        if executable is None:
            raise FleetError(f"mosquitto was not found: {MOSQUITTO_HINT}")
        settings = self._settings
        directory = self.work_dir / "mosquitto"
        with session_scope(core_db.get_engine(settings.database_url)) as session:
            write_mosquitto_config(
                session, directory, settings, host="127.0.0.1", port=settings.mqtt_port,
                device_port=settings.mqtt_device_port,
                run_as="root" if os.geteuid() == 0 else None,
            )
        stream = (directory / "mosquitto.log").open("ab")
        self._mosquitto = subprocess.Popen(
            [str(executable), "-c", str(directory / "mosquitto.conf")],
            stdout=stream, stderr=subprocess.STDOUT,
        )
        for port in (settings.mqtt_port, settings.mqtt_device_port):
            try:
                wait_for_port(port, 10)
            except BrokerError as error:
                raise FleetError(f"{error}; see {directory / 'mosquitto.log'}") from error

    def _start_ingestion(self) -> None:
        settings = self._settings
        env = dict(os.environ)
        for name in ("environment", "data_dir", "database_url", "mqtt_broker", "mqtt_port",
                     "mqtt_device_port", "mqtt_ingest_client_id", "device_key_encryption_key"):
            env[f"IKKI_{name.upper()}"] = str(getattr(settings, name))
        stream = (self.work_dir / "ingestion.log").open("ab")
        self._ingestion = subprocess.Popen(
            [sys.executable, "-c", "from backend.cli import main; main()", "mqtt", "ingest"],
            env=env, stdout=stream, stderr=subprocess.STDOUT, cwd=self.work_dir,
        )

    def _wait_for_ingestion(self, timeout: float) -> None:
        # Ingestion is subscribed once its persistent session exists on the broker: a probe
        # message published before that would be lost, so wait for its subscription in the log.
        deadline = time.monotonic() + timeout
        log_path = self.work_dir / "ingestion.log"
        while time.monotonic() < deadline:
            if self._ingestion is not None and self._ingestion.poll() is not None:
                raise FleetError(f"ingestion exited: {log_path.read_text()[-2000:]}")
            if "ingestion.subscribed" in log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise FleetError(f"ingestion did not subscribe within {timeout} s: {log_path.read_text()[-2000:]}")

    def stored_events(self) -> list[dict[str, Any]]:
        from sqlmodel import select

        from backend.core import db as core_db
        from backend.core.db import session_scope
        from backend.devices.models import DeviceEvent

        engine = core_db.get_engine(self._settings.database_url)
        with session_scope(engine, write_lock=False) as session:
            rows = session.exec(
                select(DeviceEvent.device_id, DeviceEvent.seq, DeviceEvent.event_type,
                       DeviceEvent.received_at).where(DeviceEvent.device_id.startswith(DEVICE_PREFIX))
            ).all()
        return [
            {"device_id": row[0], "seq": row[1], "type": row[2], "received_at": row[3]} for row in rows
        ]

    def rejected_count(self) -> int:
        from sqlmodel import func, select

        from backend.core import db as core_db
        from backend.core.db import session_scope
        from backend.devices.models import RejectedMessage

        engine = core_db.get_engine(self._settings.database_url)
        with session_scope(engine, write_lock=False) as session:
            return session.exec(select(func.count()).select_from(RejectedMessage)).one()

    # Sticker side

    def _compile_firmware(self) -> dict[Path, Path]:
        # mpy-cross bytecode of every firmware module but main.py, as the factory flashes
        # them: a boot then loads bytecode instead of compiling the sources again.
        from simulator.upython import mpy_cross_executable
        from simulator.vboard import FIRMWARE_DIR, firmware_files

        compiled_dir = self.work_dir / "firmware-mpy"
        compiled: dict[Path, Path] = {}
        for relative in firmware_files():
            if relative.suffix != ".py" or relative.name == "main.py":
                continue
            target = (compiled_dir / relative).with_suffix(".mpy")
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [str(mpy_cross_executable()), "-o", str(target), str(FIRMWARE_DIR / relative)],
                check=True, capture_output=True,
            )
            compiled[relative] = target
        return compiled

    def _install_boards(self) -> None:
        settings = self._settings
        compiled = self._compile_firmware()
        config_settings = dict(self.scenario.sticker_settings)
        config_settings["heartbeat_s"] = round(self.scenario.heartbeat_s, 3)
        for sticker in self.plans:
            board = VirtualBoard(
                self.work_dir / "stickers" / sticker.device_id,
                make_config(
                    sticker.device_id, self._keys[sticker.device_id].hex(),
                    mqtt_port=settings.mqtt_device_port, **config_settings,
                ),
                wake_poll_s=_FLEET_WAKE_POLL_S,
                run_poll_s=_FLEET_RUN_POLL_S,
            )
            board.install()
            for relative, bytecode in compiled.items():
                (board.flash_dir / relative).unlink()
                shutil.copyfile(bytecode, (board.flash_dir / relative).with_suffix(".mpy"))
            # The freelancer takes the sticker off its backing sheet in daylight.
            board.set_light(LIGHT_OPEN)
            self.boards.append(board)

    def _real_at(self, moment: datetime) -> float:
        return self._started_mono + (moment - self.scenario.start).total_seconds() / self.scenario.time_scale

    def _actions(self) -> list[_Action]:
        actions: list[_Action] = []
        order = 0
        for sticker in self.plans:
            items: list[tuple[datetime, str, float]] = [(sticker.posted_at, "power_on", 0.0)]
            if sticker.flash_at is not None:
                items.append((sticker.flash_at, "flash", 0.0))
            items += [(opening.at, "open", opening.reading_s) for opening in sticker.openings]
            for moment, kind, reading_s in items:
                order += 1
                actions.append(_Action(self._real_at(moment), order, kind, sticker.index, reading_s))
        heapq.heapify(actions)
        return actions

    def _do(self, action: _Action, queue: list[_Action]) -> None:
        board = self.boards[action.index]
        record = self.records[self.plans[action.index].device_id]
        now = time.monotonic()
        if action.kind == "power_on":
            board.start()
            self._push(queue, now + _SEAL_AFTER_S, "seal", action.index)
        elif action.kind == "seal":
            board.set_light(LIGHT_CLOSED)
        elif action.kind == "flash":
            status = board.state()
            if status["state"] == "armed" and status["process"] == "sleeping":
                record.flashes_asleep += 1
            began = time.perf_counter()
            board.set_light(LIGHT_OPEN)
            time.sleep(self.scenario.sorting_flash_ms / 1000)
            board.set_light(LIGHT_CLOSED)
            lit_ms = (time.perf_counter() - began) * 1000
            record.flash_ms.append(lit_ms)
            if lit_ms * 2 > self.scenario.sticker_settings.get("debounce_ms", 200):
                record.long_flashes += 1
        elif action.kind == "open":
            first_try = action.first_try or now
            if board.state()["state"] not in _READY_STATES:
                if now - first_try > _ARMED_WAIT_S:
                    record.openings_skipped += 1
                    log.warning("fleet.opening_skipped", device_id=record.device_id,
                                state=board.state()["state"])
                    return
                self._push(queue, now + 0.25, "open", action.index, action.reading_s, first_try)
                return
            record.opening_waits_s.append(now - first_try)
            offset = board.console_size()
            board.set_light(LIGHT_OPEN)
            record.openings_real.append(time.time())
            self._push(queue, now + action.reading_s, "close", action.index, first_try=now + action.reading_s,
                       console_offset=offset)
        elif action.kind == "close":
            # The debtor reads for reading_s, and does not put a crying letter away before it
            # cried: on a loaded machine the simulated chip may take longer to wake than the
            # reading lasts. A sticker that has not cried after _CRY_WAIT_S loses its opening.
            cried = any(entry.get("state") == "crying"
                        for entry in board.transitions(action.console_offset))
            waited = now - action.first_try
            if not cried and waited < _CRY_WAIT_S:
                self._push(queue, now + 0.2, "close", action.index, first_try=action.first_try,
                           console_offset=action.console_offset)
                return
            record.cry_waits_s.append(waited)
            board.set_light(LIGHT_CLOSED)

    def _push(self, queue: list[_Action], at: float, kind: str, index: int, reading_s: float = 0.0,
              first_try: float = 0.0, console_offset: int = 0) -> None:
        self._order += 1
        heapq.heappush(queue, _Action(at, self._order, kind, index, reading_s, first_try, console_offset))

    def _awake(self) -> int:
        return sum(1 for board in self.boards if board._process is not None)

    def _drive(self, say: Any) -> None:
        queue = self._actions()
        self._order = len(queue)
        next_sample = time.monotonic()
        next_progress = next_sample + _PROGRESS_EVERY_S
        while queue and not self._stop.is_set():
            action = queue[0]
            now = time.monotonic()
            if now >= next_sample:
                awake = self._awake()
                self._peak_awake = max(self._peak_awake, awake)
                next_sample = now + 0.5
                if now >= next_progress:
                    next_progress = now + _PROGRESS_EVERY_S
                    simulated = self.scenario.start + timedelta(
                        seconds=(now - self._started_mono) * self.scenario.time_scale
                    )
                    lag_s = max(0.0, now - action.at)
                    say(f"  {simulated:%a %d %b %H:%M}: {len(queue)} actions left, "
                        f"{awake} boards awake, {lag_s:.1f} s behind the calendar")
            if action.at > now:
                self._stop.wait(min(action.at - now, 0.5))
                continue
            heapq.heappop(queue)
            self._do(action, queue)

    def _settled(self) -> tuple[int, int]:
        # (boards asleep with an empty journal, boards in total), from each console's last sleep.
        settled = 0
        for board in self.boards:
            status = board.state()
            if status["process"] != "sleeping" or status["state"] not in ("armed", "done"):
                continue
            if last_sleep_pending(board) == 0:
                settled += 1
        return settled, len(self.boards)

    # The whole run

    def run(self, progress: Any = None) -> dict[str, Any]:
        say = progress or (lambda text: None)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._settings = self._backend_settings()
        started = time.monotonic()
        try:
            return self._run(say, started)
        finally:
            # Also on a failure or a signal: nothing of the run is left behind.
            self._stop_boards()
            self._stop_services()

    def _run(self, say: Any, started: float) -> dict[str, Any]:
        try:
            say(f"registering {len(self.plans)} stickers in {self._settings.database_url}")
            self._register()
            say("starting Mosquitto and ingestion")
            self._start_mosquitto()
            self._start_ingestion()
            self._wait_for_ingestion(30)
            say("installing the virtual boards")
            self._install_boards()
            prepared_s = time.monotonic() - started
            summary = plan_summary(self.scenario, self.plans)
            say(f"running {summary['simulated_days']} simulated days in about "
                f"{summary['real_seconds']} s")
            self._started_mono = time.monotonic() + 1.0
            self._drive(say)
            say("waiting for the stickers to deliver their journals")
            deadline = time.monotonic() + self.drain_timeout_s
            while time.monotonic() < deadline:
                settled, total = self._settled()
                if settled == total:
                    break
                time.sleep(1.0)
            ran_s = time.monotonic() - self._started_mono
        finally:
            self._stop_boards()
        say("waiting for the backend to store every delivered event")
        return self._wait_and_report(prepared_s, ran_s)

    def _stop_boards(self) -> None:
        # Ask every board to switch off first, then wait: one by one, a large fleet would
        # take minutes. A board that does not stop is logged, and the others still are.
        running = [board for board in self.boards if board.running]
        for board in running:
            board.request_stop()
        for board in running:
            try:
                board.stop()
            except VirtualBoardError as error:
                log.warning("fleet.board_not_stopped", directory=str(board.directory), error=str(error))

    def _stop_services(self) -> None:
        for process in (self._ingestion, self._mosquitto):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        from backend.core import db as core_db

        core_db.dispose_engines()

    def _wait_and_report(self, prepared_s: float, ran_s: float) -> dict[str, Any]:
        consoles = {board.directory.name: console_summary(board) for board in self.boards}
        delivered = {
            (device_id, seq) for device_id, summary in consoles.items() for seq in summary["delivered"]
        }
        deadline = time.monotonic() + self.drain_timeout_s
        while True:
            stored = self.stored_events()
            stored_keys = {(row["device_id"], row["seq"]) for row in stored}
            if delivered <= stored_keys or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return build_report(self.scenario, self.plans, self.records, consoles, stored,
                            self.rejected_count(), prepared_s=prepared_s, ran_s=ran_s,
                            peak_awake=self._peak_awake)


def last_sleep_pending(board: VirtualBoard) -> int | None:
    """Return the journal depth of the board's last deep sleep, from the end of its console."""
    size = board.console_size()
    try:
        with board.console_path.open("rb") as stream:
            stream.seek(max(0, size - 4096))
            tail = stream.read().decode(errors="replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        entry = parse_console_line(line)
        if entry is not None and entry["event"] == "sleep":
            return int(entry.get("pending", 0))
    return None


def console_summary(board: VirtualBoard) -> dict[str, Any]:
    """Summarize one board's console: events recorded and delivered, ignored wake-ups."""
    recorded: dict[int, str] = {}
    delivered: set[int] = set()
    resent = 0
    ignored = 0
    last_sleep_pending = None
    boots = 0
    for entry in board.console_events():
        event = entry["event"]
        if event == "event.recorded":
            recorded[int(entry["seq"])] = entry["type"]
        elif event == "event.delivered":
            delivered.add(int(entry["seq"]))
            if entry.get("resent") == "True":
                resent += 1
        elif event == "wake.ignored":
            ignored += 1
        elif event == "sleep":
            last_sleep_pending = int(entry.get("pending", 0))
        elif event == "boot":
            boots += 1
    return {
        "recorded": recorded,
        "delivered": delivered,
        "resent": resent,
        "wake_ignored": ignored,
        "last_sleep_pending": last_sleep_pending,
        "boots": boots,
    }


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def build_report(
    scenario: Scenario,
    plans: list[StickerPlan],
    records: dict[str, StickerRecord],
    consoles: dict[str, dict[str, Any]],
    stored: list[dict[str, Any]],
    rejected: int,
    *,
    prepared_s: float,
    ran_s: float,
    peak_awake: int,
) -> dict[str, Any]:
    """Compare what the fleet did, what the firmware recorded and what the backend stored."""
    stored_by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in stored:
        stored_by_device[row["device_id"]].append(row)

    openings_done = 0
    firmware_opened = 0
    backend_opened = 0
    lost_openings: list[str] = []
    invented_openings: list[str] = []
    not_recorded: list[str] = []
    latencies: list[float] = []
    undelivered: list[str] = []
    lost_events: list[str] = []
    invented_events: list[str] = []
    stored_types: Counter[str] = Counter()
    recorded_types: Counter[str] = Counter()
    resent = 0
    ignored = 0
    flash_ms: list[float] = []
    flashes_asleep = 0
    long_flashes = 0
    cry_waits: list[float] = []
    ambiguous: list[str] = []
    waits: list[float] = []
    skipped = 0
    skipped_devices: list[str] = []

    for sticker in plans:
        device_id = sticker.device_id
        record = records[device_id]
        console = consoles.get(device_id, {"recorded": {}, "delivered": set(), "resent": 0,
                                           "wake_ignored": 0})
        rows = sorted(stored_by_device.get(device_id, []), key=lambda row: row["seq"])
        done = len(record.openings_real)
        openings_done += done
        skipped += record.openings_skipped
        if record.openings_skipped:
            skipped_devices.append(device_id)
        flash_ms += record.flash_ms
        flashes_asleep += record.flashes_asleep
        long_flashes += record.long_flashes
        cry_waits += record.cry_waits_s
        waits += record.opening_waits_s
        resent += console["resent"]
        ignored += console["wake_ignored"]
        fw_opened = sorted(seq for seq, kind in console["recorded"].items() if kind == "opened")
        firmware_opened += len(fw_opened)
        be_opened = [row for row in rows if row["type"] == "opened"]
        backend_opened += len(be_opened)
        if record.long_flashes:
            # A flash long enough to count may rightly have made the sticker cry.
            ambiguous.append(device_id)
        else:
            if len(fw_opened) < done:
                not_recorded.append(device_id)
            if len(be_opened) < done:
                lost_openings.append(device_id)
            elif len(be_opened) > done:
                invented_openings.append(device_id)
        for opened_real, row in zip(record.openings_real, be_opened, strict=False):
            received = row["received_at"]
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            latencies.append(received.timestamp() - opened_real)

        recorded_types.update(console["recorded"].values())
        stored_types.update(row["type"] for row in rows)
        stored_seqs = {row["seq"] for row in rows}
        for seq in console["delivered"]:
            if seq not in stored_seqs:
                lost_events.append(f"{device_id}#{seq}")
        for seq in console["recorded"]:
            if seq not in console["delivered"] and seq not in stored_seqs:
                undelivered.append(f"{device_id}#{seq}")
        for row in rows:
            if row["seq"] not in console["recorded"]:
                invented_events.append(f"{device_id}#{row['seq']}")

    events_stored = len(stored)
    return {
        "scenario": {
            "stickers": scenario.stickers,
            "seed": scenario.seed,
            "time_scale": scenario.time_scale,
            "heartbeat_real_s": round(scenario.heartbeat_s, 2),
            **plan_summary(scenario, plans),
        },
        "fleet_did": {
            "openings": openings_done,
            "openings_skipped_not_armed": skipped,
            "sorting_flashes": len(flash_ms),
            "sorting_flashes_on_sleeping_stickers": flashes_asleep,
            "longest_flash_ms": round(max(flash_ms), 1) if flash_ms else None,
            "longest_wait_for_armed_s": round(max(waits), 2) if waits else None,
            "readings_held_for_the_cry": sum(1 for wait in cry_waits if wait > 0.2),
            "longest_hold_for_the_cry_s": round(max(cry_waits), 2) if cry_waits else None,
            "flashes_too_long": long_flashes,
            "stickers_not_checked": ambiguous,
        },
        "firmware": {
            "opened_recorded": firmware_opened,
            "events_recorded": sum(recorded_types.values()),
            "events_by_type": dict(sorted(recorded_types.items())),
            "wake_ups_ignored": ignored,
            "resent_with_dup": resent,
            "left_in_journals": len(undelivered),
            "openings_not_recorded": not_recorded,
        },
        "backend": {
            "opened_stored": backend_opened,
            "events_stored": events_stored,
            "events_by_type": dict(sorted(stored_types.items())),
            "rejected_messages": rejected,
        },
        "checks": {
            "openings_lost": lost_openings,
            "openings_invented": invented_openings,
            "openings_skipped_sticker_not_armed": skipped_devices,
            "events_delivered_not_stored": lost_events[:50],
            "events_delivered_not_stored_count": len(lost_events),
            "events_stored_not_recorded": invented_events[:50],
            "events_stored_not_recorded_count": len(invented_events),
            "ok": not (lost_openings or invented_openings or lost_events or invented_events
                       or not_recorded or skipped),
        },
        "timing": {
            "prepare_s": round(prepared_s, 1),
            "run_s": round(ran_s, 1),
            "peak_boards_awake": peak_awake,
            "opening_to_stored_s": {
                "median": _round(statistics.median(latencies)) if latencies else None,
                "p95": _round(_percentile(latencies, 0.95)),
                "max": _round(max(latencies)) if latencies else None,
            },
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _verdict(ok: bool, openings: int) -> str:
    if not ok:
        return "MISMATCH: see the names above and in report.json"
    if not openings:
        return "no opening to check; every delivered event stored once, none invented"
    return "every opening stored once, none invented"


def format_report(report: dict[str, Any]) -> str:
    """Return the report as text for a terminal."""
    scenario = report["scenario"]
    did = report["fleet_did"]
    firmware = report["firmware"]
    backend = report["backend"]
    checks = report["checks"]
    timing = report["timing"]
    latency = timing["opening_to_stored_s"]
    lines = [
        (f"Fleet of {scenario['stickers']} stickers, seed {scenario['seed']}, "
        f"{scenario['simulated_days']} simulated days at x{scenario['time_scale']:g} "
        f"({timing['run_s']} s of real time, peak {timing['peak_boards_awake']} boards awake)"),
        (f"  letters: {scenario['profiles'].get('once', 0)} opened once, "
        f"{scenario['profiles'].get('twice', 0)} twice, {scenario['profiles'].get('never', 0)} never; "
        f"{did['sorting_flashes']} sorting flashes, {did['sorting_flashes_on_sleeping_stickers']} "
        f"of them on armed sleeping stickers (longest {did['longest_flash_ms']} ms)"),
        "",
        f"{'':28}{'fleet did':>12}{'firmware':>12}{'backend':>12}",
        f"{'openings':28}{did['openings']:>12}{firmware['opened_recorded']:>12}{backend['opened_stored']:>12}",
        f"{'events':28}{'':>12}{firmware['events_recorded']:>12}{backend['events_stored']:>12}",
    ]
    for kind in sorted(set(firmware["events_by_type"]) | set(backend["events_by_type"])):
        lines.append(
            f"{'  ' + kind:28}{'':>12}{firmware['events_by_type'].get(kind, 0):>12}"
            f"{backend['events_by_type'].get(kind, 0):>12}"
        )

    lines += [
        "",
        f"wake-ups ignored (light shorter than the debounce): {firmware['wake_ups_ignored']}",
        (f"QoS 1 resends with DUP: {firmware['resent_with_dup']}; "
        f"events left in journals: {firmware['left_in_journals']}; "
        f"rejected messages: {backend['rejected_messages']}"),
        (f"opening to stored: median {latency['median']} s, p95 {latency['p95']} s, max {latency['max']} s"
         if latency["median"] is not None else "opening to stored: no opening was stored"),
        (f"openings lost: {len(checks['openings_lost'])}; invented: {len(checks['openings_invented'])}; "
        f"events delivered but not stored: {checks['events_delivered_not_stored_count']}; "
        f"stored but never recorded: {checks['events_stored_not_recorded_count']}; "
        f"openings skipped (sticker not armed): {did['openings_skipped_not_armed']}"),
        (f"readings held until the sticker cried: {did['readings_held_for_the_cry']} "
         f"(longest {did['longest_hold_for_the_cry_s']} s); flashes too long to judge: "
         f"{did['flashes_too_long']}"),
        "RESULT: " + _verdict(checks["ok"], did["openings"]),
    ]
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, default=str))

# The sticker application: the state machine from reset to deep sleep.
#
# States: unprovisioned, idle (awake in light, or asleep until dark), arming
# (awake in the dark), armed (deep sleep until light), crying, reporting and
# done. The state "error" marks an unexpected exception, after which the board
# resets.
#
# Every state change is logged with its reason and written through the board
# module to RTC memory, where the virtual board and the REPL can read it.
# Each wake-up from deep sleep is a reset: run() picks up from the state that
# was stored in RTC memory before the sleep.
import gc
import os
import sys

from micropython import const

import config as config_module
import log
from board import DEFAULT_PINMAP, Board
from cry import CryPlayer
from journal import Journal
from light import LightSensor
from seqno import SequenceStore
from version import FW_VERSION

# reporter, mqtt and signing are imported by load_delivery(): on a wake-up by
# light the sound starts before their bytecode is loaded.

_AWAKE_POLL_MS = const(50)  # light sampling period while idle or arming
_CONFIRM_POLL_MS = const(10)  # light sampling period while confirming a wake-up
_REPORT_POLL_MS = const(20)
_IDLE_SLEEP_MS = const(60000)  # awake in light this long, then sleep until dark
# Sleep with a timer instead of the light pin when the pin already shows the
# wake-up level, which would wake the chip at once.
_PIN_ALREADY_SET_SLEEP_MS = const(10000)
# Stay awake for a delivery retry due within this time; sleep for a later one.
_STAY_AWAKE_FOR_RETRY_MS = const(5000)
_ERROR_RESET_DELAY_MS = const(5000)
# Longest network wait while the cry plays: below the 0.5 s of sound that the
# I2S buffer holds. After the cry the reporter's normal timeouts apply.
_CRY_NETWORK_TIMEOUT_MS = const(300)
# The watchdog resets the chip when the application stops feeding it: longer
# than the longest bounded wait (Wi-Fi association, 20 s).
WATCHDOG_TIMEOUT_MS = const(30000)
# On flash: written when the sticker finished for good (after_cry "finish"),
# so that a power cut does not re-arm it.
FINISHED_FILE = "finished"
# On flash while the sticker is armed and its opening is not journaled yet.
# It holds the first sequence number the opening may get. RTC memory is lost
# in a power cut, so at power-on in light this file tells that the letter was
# armed, and the journal tells whether its opening was already recorded.
ARMED_FILE = "armed"


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class App:
    def __init__(self, board, config):
        self.board = board
        self.config = config
        # The state stored before this reset, e.g. "armed" before a wake-up.
        self.previous_state = board.retained.get("st")
        self.state = None
        self.sensor = LightSensor(
            board.light_level, config.light_threshold, config.light_hysteresis, config.debounce_ms
        )
        self.player = CryPlayer(board, config.volume)
        self.sequence = SequenceStore(resume=board.retained.get("sq", 0))
        self.journal = Journal()
        self._reporter = None
        self.finished = _exists(FINISHED_FILE)
        self._signer = None
        if "rs" not in board.retained:
            # RTC session id: changes whenever the RTC restarts, so an event's
            # age can be trusted only while it is unchanged.
            board.retained["rs"] = board.random_u32() & 0x7FFFFFFF
            board.save_retained()

    @property
    def reporter(self):
        # Created at first use, which imports the network modules.
        if self._reporter is None:
            from reporter import Reporter
            from signing import Signer

            self._signer = Signer(self.config.key)
            self._reporter = Reporter(self.board, self.config, self.journal, self._signer)
            self._reporter.on_config = self.config_received
        return self._reporter

    def config_received(self, payload):
        # A configuration from the backend: applied to config.json for the
        # next wake-up, or rejected with its reason; either way acknowledged
        # with an event, once per version.
        import downlink

        outcome, version, reason = downlink.apply(payload, self._signer)
        log.info("config.received", outcome=outcome, version=version, reason=reason)
        if outcome == "unchanged":
            return
        retained = self.board.retained
        if outcome == "rejected":
            if retained.get("cfr") == version:
                return
            retained["cfr"] = version
            self.board.save_retained()
            # Events carry printable ASCII only, at most 64 characters.
            text = "".join(c if " " <= c <= "~" else "?" for c in (reason or ""))
            self.record("config_rejected", {"cfg_v": version, "reason": text[:64]})
            return
        self.record("config_applied", {"cfg_v": version})

    def set_state(self, state, reason):
        if state != self.state:
            log.info("state", previous=self.state, state=state, reason=reason)
        self.state = state
        self.board.set_state(state, reason)

    # Reset and wake-up

    def run(self):
        # Never returns: every path ends in deep sleep.
        board = self.board
        board.watchdog_start(WATCHDOG_TIMEOUT_MS)
        cause = board.reset_cause()
        wake = board.wake_reason()
        log.info(
            "boot",
            reset=cause,
            wake=wake,
            stored_state=self.previous_state,
            fw=FW_VERSION,
            pending=len(self.journal),
        )

        if cause != "deepsleep":
            self.schedule_heartbeat()
            battery_mv = board.battery_mv()
            self.record("boot", {"reset": cause, "batt_mv": battery_mv})
            self.check_battery(battery_mv)
            if self.finished:
                self.timer_wake("done")
            if self.opening_pending() and board.light_pin():
                log.warning("boot.armed_in_light", reset=cause)
                self.confirm_opening()
            self.stay_awake("%s reset" % cause)
        if self.finished or self.previous_state == "done":
            self.timer_wake("done")
        if self.previous_state == "armed":
            if wake == "pin" or board.light_pin():
                self.confirm_opening()
            self.timer_wake("armed")
        if wake == "timer":
            self.timer_wake("idle")
        self.stay_awake("woke up from %s (%s)" % (self.previous_state, wake))

    def confirm_opening(self):
        # Woken by light while armed: cry only if the light lasts debounce_ms,
        # otherwise it was a flash (letters being sorted) and the sticker
        # goes back to sleep.
        board = self.board
        self.sensor.reset(board.uptime_ms(), stable=False)
        onset_ms = None
        while True:
            now = board.uptime_ms()
            light = self.sensor.sample(now)
            if not self.sensor.raw_light:
                held_ms = 0 if onset_ms is None else now - onset_ms
                log.info(
                    "wake.ignored",
                    light_ms=held_ms,
                    debounce_ms=self.config.debounce_ms,
                    level=self.sensor.level,
                )
                self.sleep(
                    "armed",
                    "light for %d ms, shorter than the %d ms debounce"
                    % (held_ms, self.config.debounce_ms),
                )
            if onset_ms is None:
                onset_ms = now
            if light:
                self.cry(onset_ms)
            board.watchdog_feed()
            board.sleep_ms(_CONFIRM_POLL_MS)

    def timer_wake(self, mode):
        # Woken by the timer (or powered on after the last cry): send the
        # heartbeat or retry delivery, then sleep again in the same mode,
        # "armed", "idle" or "done". While armed, light still starts the cry.
        board = self.board
        armed = mode == "armed"
        self.heartbeat_if_due()
        now = board.uptime_ms()
        self.sensor.reset(now, stable=not armed)
        if len(self.journal):
            self.set_state(
                "reporting", "timer wake-up, %d events in the journal" % len(self.journal)
            )
        deadline = now + self.config.report_window_ms
        while len(self.journal) and board.uptime_ms() < deadline:
            if self.reporter.retry_wait_ms() > _STAY_AWAKE_FOR_RETRY_MS:
                break
            self.reporter.step()
            if armed:
                self.sensor.sample(board.uptime_ms())
                if self.sensor.raw_light:
                    self.confirm_opening()
            board.watchdog_feed()
            board.sleep_ms(_REPORT_POLL_MS)

        if mode != "idle":
            self.sleep(mode, "timer wake-up done, %d events in the journal" % len(self.journal))
        self.sensor.reset(board.uptime_ms())
        if self.sensor.light:
            self.sleep("idle", "timer wake-up done, still in light")
        self.stay_awake("timer wake-up in the dark")

    # Awake: idle in light, arming in the dark

    def stay_awake(self, reason):
        board = self.board
        config = self.config
        self.sensor.reset(board.uptime_ms())
        self.set_state("idle" if self.sensor.light else "arming", reason)
        armed_recorded = False
        while True:
            now = board.uptime_ms()
            light = self.sensor.sample(now)
            held_ms = now - self.sensor.debouncer.stable_since
            if light:
                if self.state != "idle":
                    self.set_state("idle", "light for %d ms" % held_ms)
                if held_ms >= _IDLE_SLEEP_MS and self.ready_to_sleep():
                    self.sleep("idle", "light for %d ms" % held_ms)
            else:
                if self.state != "arming":
                    self.set_state("arming", "dark for %d ms" % held_ms)
                    armed_recorded = False
                if held_ms >= config.arm_delay_ms:
                    if not armed_recorded:
                        # Tells the freelancer that the letter is in its envelope.
                        self.record("armed", {"batt_mv": board.battery_mv()})
                        armed_recorded = True
                    if self.ready_to_sleep():
                        self.sleep("armed", "dark for %d ms" % held_ms)
            self.heartbeat_if_due()
            self.reporter.step()
            board.watchdog_feed()
            board.sleep_ms(_AWAKE_POLL_MS)

    def ready_to_sleep(self):
        # Sleep when nothing waits in the journal, or when the next delivery
        # retry is far enough away to sleep until it.
        return not len(self.journal) or self.reporter.retry_wait_ms() > _STAY_AWAKE_FOR_RETRY_MS

    def sleep(self, mode, reason):
        # Deep sleep: "armed" wakes on light, "idle" wakes on dark, "done"
        # wakes on neither. A timer wakes the sticker for a delivery retry or
        # the next heartbeat.
        board = self.board
        timer_ms = 0
        if len(self.journal):
            timer_ms = max(self.reporter.retry_wait_ms(), self.config.retry_min_ms)
        heartbeat_ms = self.heartbeat_wait_ms()
        if heartbeat_ms is not None:
            heartbeat_ms = max(heartbeat_ms, 1)
            timer_ms = heartbeat_ms if not timer_ms else min(timer_ms, heartbeat_ms)
        self.reporter.shutdown()

        wake_on_light = None if mode == "done" else mode == "armed"
        if wake_on_light is not None and board.light_pin() == (1 if wake_on_light else 0):
            log.warning(
                "sleep.wake_pin_already_set",
                mode=mode,
                pin=board.light_pin(),
                level=board.light_level(),
            )
            wake_on_light = None
            timer_ms = (
                _PIN_ALREADY_SET_SLEEP_MS
                if not timer_ms
                else min(timer_ms, _PIN_ALREADY_SET_SLEEP_MS)
            )

        if mode == "armed" and not _exists(ARMED_FILE):
            with open(ARMED_FILE, "w") as stream:
                stream.write(str(self.sequence.peek()))
        self.set_state(mode, reason)
        gc.collect()
        log.info(
            "sleep",
            mode=mode,
            wake_on_light=wake_on_light,
            timer_ms=timer_ms,
            pending=len(self.journal),
            mem_free=gc.mem_free(),
        )
        board.deep_sleep(wake_on_light, timer_ms)

    # Crying

    def cry(self, onset_ms):
        # The sound starts first; journaling and delivery follow while it plays.
        board = self.board
        config = self.config
        started_ms = board.uptime_ms()
        # The sound comes first: nothing is read, logged or written before it.
        try:
            self.player.start()
            self.player.pump()
        except OSError as error:
            # A broken speaker or sound file must not stop the report.
            log.error("cry.sound_failed", error=repr(error))
            self.player.stop()
        self.set_state("crying", "light for %d ms" % (started_ms - onset_ms))
        # Read while the speaker draws current: the lowest voltage of a cycle.
        battery_mv = board.battery_mv()
        if self.opening_pending():
            self.record("opened", {"light": self.sensor.level, "batt_mv": battery_mv}, onset_ms)
        else:
            log.info("cry.opening_already_recorded")
        _remove(ARMED_FILE)

        self.reporter.set_timeout_ms(_CRY_NETWORK_TIMEOUT_MS)
        reason = None
        try:
            while reason is None:
                board.watchdog_feed()
                if self.player.playing:
                    self.player.pump()
                else:
                    board.sleep_ms(_CONFIRM_POLL_MS)
                now = board.uptime_ms()
                self.sensor.sample(now)
                if now - started_ms >= config.cry_max_ms:
                    reason = "cried for the maximum of %d ms" % config.cry_max_ms
                elif (
                    not self.sensor.raw_light
                    and self.sensor.raw_held_ms(now) >= config.cry_stop_dark_ms
                ):
                    reason = "dark for %d ms" % self.sensor.raw_held_ms(now)
                else:
                    # Network waits are cut below the 0.5 s of sound in the
                    # I2S buffer. NOTE: a DNS lookup (getaddrinfo) has no
                    # timeout and may still break up the sound.
                    self.reporter.step()
        finally:
            self.player.stop()
            self.reporter.set_timeout_ms(0)
        log.info(
            "cry.stop",
            reason=reason,
            cried_ms=board.uptime_ms() - started_ms,
            sound_bytes=self.player.bytes_played,
        )
        gc.collect()

        self.check_battery(battery_mv)
        self.report_after_cry()
        if self.config.after_cry == "finish":
            self.finish()
        self.stay_awake("re-arming after the cry")

    def report_after_cry(self):
        board = self.board
        if len(self.journal):
            self.set_state("reporting", "%d events in the journal" % len(self.journal))
            deadline = board.uptime_ms() + self.config.report_window_ms
            while len(self.journal) and board.uptime_ms() < deadline:
                if self.reporter.retry_wait_ms() > _STAY_AWAKE_FOR_RETRY_MS:
                    break
                self.reporter.step()
                board.watchdog_feed()
                board.sleep_ms(_REPORT_POLL_MS)
        if len(self.journal):
            self.set_state(
                "done", "%d events left in the journal for a later retry" % len(self.journal)
            )
        else:
            self.set_state("done", "all events delivered")

    def opening_pending(self):
        # True while the flash says "armed" and the journal holds no opened
        # event since: a power cut between the wake-up and the journal write
        # then still ends in one opened event, and a cut after it in no second
        # one. The armed file is removed right after the write, before any
        # delivery could take the event out of the journal.
        try:
            with open(ARMED_FILE) as stream:
                first_seq = int(stream.read().strip() or "0")
        except (OSError, ValueError):
            return self.previous_state == "armed"
        for seq in self.journal.seqs():
            if seq >= first_seq:
                record = self.journal.read(seq)
                if record is not None and record.get("type") == "opened":
                    return False
        return True

    def finish(self):
        # after_cry "finish": one opening is all this sticker reports. It
        # sleeps without a light wake-up, for heartbeats and retries only.
        with open(FINISHED_FILE, "w") as stream:
            stream.write("1")
        self.finished = True
        self.sleep("done", "cry over and after_cry is finish")

    # Events

    def record(self, event_type, extra, up_ms=None):
        # Journal an event; the reporter signs and sends it later.
        board = self.board
        now = board.uptime_ms()
        if up_ms is None:
            up_ms = now

        seq = self.sequence.next()
        # Saved before the number is used, so a wake-up resumes after it.
        board.retained["sq"] = self.sequence.peek()
        board.save_retained()

        record = {
            "seq": seq,
            "type": event_type,
            "up": up_ms,
            "rtc": board.rtc_ms() - (now - up_ms),
            "rs": board.retained["rs"],
            "f": extra,
        }
        try:
            dropped_seq = self.journal.append(record)
        except OSError as error:
            log.error("journal.write_failed", seq=record["seq"], type=event_type, error=repr(error))
            return
        if dropped_seq:
            log.warning("journal.full", dropped_seq=dropped_seq, dropped_total=self.journal.dropped)
        log.info(
            "event.recorded",
            seq=record["seq"],
            type=event_type,
            up=up_ms,
            pending=len(self.journal),
        )

    def schedule_heartbeat(self):
        if self.config.heartbeat_ms:
            self.board.retained["hb"] = self.board.rtc_ms() + self.config.heartbeat_ms
            self.board.save_retained()

    def heartbeat_wait_ms(self):
        # Return the time until the next heartbeat, or None when disabled.
        due = self.board.retained.get("hb")
        if not self.config.heartbeat_ms or due is None:
            return None
        return max(0, due - self.board.rtc_ms())

    def heartbeat_if_due(self):
        if self.heartbeat_wait_ms() != 0:
            return
        self.schedule_heartbeat()
        # On a timer wake-up the current state is still the one slept in.
        state = self.state or self.previous_state or ""
        battery_mv = self.board.battery_mv()
        self.record(
            "heartbeat",
            {
                "batt_mv": battery_mv,
                "state": state,
                # Signal strength of the last connection, 0 when unknown.
                "rssi": self.board.retained.get("rssi", 0),
                "pending": len(self.journal),
            },
        )
        self.check_battery(battery_mv)

    def check_battery(self, battery_mv):
        # Record low_battery once per fall under the limit; RTC memory keeps
        # the flag, so a power cut may report it once more.
        retained = self.board.retained
        low = battery_mv < self.config.low_battery_mv
        if low and not retained.get("lb"):
            self.record(
                "low_battery", {"batt_mv": battery_mv, "limit_mv": self.config.low_battery_mv}
            )
        if bool(retained.get("lb")) != low:
            retained["lb"] = 1 if low else 0
            self.board.save_retained()


def main():
    problem = None
    try:
        config = config_module.load()
    except config_module.ConfigError as error:
        config = None
        problem = "invalid config.json: %s" % error
    pinmap = config.board if config is not None else DEFAULT_PINMAP
    try:
        board = Board(pinmap)
    except ImportError:
        board = Board(DEFAULT_PINMAP)
        config = None
        problem = "invalid config.json: no pin map boards/%s.py" % pinmap
    log.set_clock(board.uptime_ms)

    if config is None:
        reason = problem or "no config.json on flash"
        log.warning("unprovisioned", reason=reason)
        board.set_state("unprovisioned", reason)
        return

    try:
        App(board, config).run()
    except Exception as error:  # noqa: BLE001 - the last resort, logged and followed by a reset
        # Last resort: show the error, then reset instead of hanging awake.
        sys.print_exception(error)
        log.error("crashed", error=repr(error))
        board.set_state("error", repr(error))
        board.sleep_ms(_ERROR_RESET_DELAY_MS)
        board.reset()

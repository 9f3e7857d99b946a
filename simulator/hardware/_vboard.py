# Shared state of the simulated hardware (MicroPython code, loaded by the
# simulated machine, network and esp32 modules inside a virtual board).
#
# The board directory (VBOARD_DIR) links the firmware process to the CPython
# supervisor (simulator/vboard.py):
#   hardware.json  wiring: pin roles, comparator threshold, battery divider
#   inputs.json    light level, battery voltage, Wi-Fi access point, and the
#                  faults of simulator/faults.py (controls)
#   boot.json      reset cause and wake reason of this boot
#   sleep.json     wake sources, written when the firmware enters deep sleep
#   rtc_memory.bin RTC user memory (kept in deep sleep, cleared at power-on)
#   audio.wav      everything the speaker played
#   hardware.log   one JSON line per hardware event (I2S, amplifier, Wi-Fi, sleep)
import json
import os
import struct
import sys
import time

# Exit statuses the supervisor understands; simulator/vboard.py has the same.
EXIT_DEEPSLEEP = 86
EXIT_RESET = 87
EXIT_POWER_LOST = 88

DIRECTORY = os.getenv("VBOARD_DIR")
if not DIRECTORY:
    raise ImportError(
        "VBOARD_DIR is not set: the simulated machine, network and esp32 modules run only in a virtual board"
    )

_SUPERVISOR_PID = os.getenv("VBOARD_SUPERVISOR_PID")
_POWER_CHECK_US = 500000

_hardware = None
_boot = None
_inputs_cache = None  # (bytes, parsed) of inputs.json
_last_power_check_us = 0
# Output pin levels, by GPIO number.
outputs = {}
# Wake sources set through the esp32 module.
wake_sources = {"ext0": None, "ext1": None}
# Active I2S outputs; they catch up with the sound already played before an
# output pin (the amplifier enable) changes.
audio_outputs = []


def path(name):
    return DIRECTORY + "/" + name


def now_us():
    return time.time_ns() // 1000


def read_json(name, default=None):
    try:
        with open(path(name)) as stream:
            return json.loads(stream.read())
    except (OSError, ValueError):
        return default


def write_json(name, data):
    temporary = path(name + ".tmp")
    with open(temporary, "w") as stream:
        stream.write(json.dumps(data))
    os.rename(temporary, path(name))


def hardware():
    global _hardware
    if _hardware is None:
        _hardware = read_json("hardware.json")
        if _hardware is None:
            raise OSError(
                "virtual board wiring %s is missing: run VirtualBoard.install()"
                % path("hardware.json")
            )
    return _hardware


def boot_info():
    global _boot
    if _boot is None:
        _boot = read_json("boot.json", {"reset_cause": 1, "wake_reason": 0, "boot": 0})
    return _boot


def pin_role(gpio):
    # Return what the board wires to this GPIO ("light_wake", "amp_enable",
    # ...), or None for an unconnected pin.
    pins = hardware()["pins"]
    for role in pins:
        if pins[role] == gpio:
            return role
    return None


def check_power():
    # The supervisor is the board's power supply: when its process is gone,
    # the board loses power. Checked at most every 0.5 s.
    global _last_power_check_us
    if not _SUPERVISOR_PID:
        return
    now = now_us()
    if now - _last_power_check_us < _POWER_CHECK_US:
        return
    _last_power_check_us = now
    try:
        os.stat("/proc/" + _SUPERVISOR_PID)
    except OSError:
        sys.exit(EXIT_POWER_LOST)


def inputs():
    # Parsed only when the bytes changed: a light sample then costs a read,
    # not a JSON parse on the firmware's heap.
    global _inputs_cache
    check_power()
    try:
        with open(path("inputs.json"), "rb") as stream:
            raw = stream.read()
    except OSError:
        return {}
    if _inputs_cache is None or _inputs_cache[0] != raw:
        try:
            _inputs_cache = (raw, json.loads(raw))
        except ValueError:
            return {}
    return _inputs_cache[1]

def light_level():
    level = inputs().get("light", 0)
    return max(0, min(65535, int(level)))


def comparator():
    # Comparator output on the light wake pin: 1 at or above its threshold.
    return 1 if light_level() >= hardware()["comparator_threshold"] else 0


def log(event, **fields):
    fields["event"] = event
    fields["t_us"] = now_us()
    fields["boot"] = boot_info().get("boot", 0)
    with open(path("hardware.log"), "a") as stream:
        stream.write(json.dumps(fields) + "\n")


def deep_sleep(time_ms):
    sleep = {
        "ext0": wake_sources["ext0"],
        "ext1": wake_sources["ext1"],
        "timer_ms": time_ms,
        "t_us": now_us(),
    }
    write_json("sleep.json", sleep)
    log("deepsleep", ext0=sleep["ext0"], timer_ms=time_ms)
    sys.exit(EXIT_DEEPSLEEP)


class WavWriter:
    # Appends PCM to a WAV file and keeps its header sizes right after every
    # write, so the file stays valid if the board loses power.

    def __init__(self, name, rate, bits, channels):
        self._path = path(name)
        self.data_bytes = 0
        header = self._header(rate, bits, channels, 0)
        try:
            stream = open(self._path, "r+b")  # noqa: SIM115 - kept open by the writer; close() closes it
        except OSError:
            stream = None
        if stream is not None:
            existing = stream.read(44)
            if len(existing) == 44 and existing[20:36] == header[20:36]:
                stream.seek(0, 2)
                self.data_bytes = stream.tell() - 44
            else:
                # Another format: start the capture again.
                stream.close()
                stream = None
        if stream is None:
            stream = open(self._path, "w+b")  # noqa: SIM115 - kept open by the writer; close() closes it
            stream.write(header)
        self._stream = stream
        self._silence = memoryview(bytes(512))
        self._size_field = bytearray(4)

    @staticmethod
    def _header(rate, bits, channels, data_bytes):
        block = channels * bits // 8
        return (
            b"RIFF"
            + struct.pack("<I", 36 + data_bytes)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
            + b"data"
            + struct.pack("<I", data_bytes)
        )

    def write(self, data):
        self._stream.seek(0, 2)
        self._stream.write(data)
        self.data_bytes += len(data)
        struct.pack_into("<I", self._size_field, 0, 36 + self.data_bytes)
        self._stream.seek(4)
        self._stream.write(self._size_field)
        struct.pack_into("<I", self._size_field, 0, self.data_bytes)
        self._stream.seek(40)
        self._stream.write(self._size_field)
        self._stream.flush()

    def write_silence(self, count):
        while count > 0:
            chunk = min(count, len(self._silence))
            self.write(self._silence[:chunk])
            count -= chunk

    def close(self):
        self._stream.close()

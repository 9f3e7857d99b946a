"""Light detection (light.py) under MicroPython, on simulated time.

A sequence of light levels is sampled every 10 ms, as the firmware does
while it confirms a wake-up. The script prints the first time the debounced
state turned light, or -1.
"""

from __future__ import annotations

import json

THRESHOLD = 12000
HYSTERESIS = 3000
DEBOUNCE_MS = 200
DARK = 150
LIGHT = 40000

FIRST_LIGHT = """
import json
from light import LightSensor
levels = {levels!r}
position = [0]
def read_level():
    return levels[position[0]]
sensor = LightSensor(read_level, {threshold}, {hysteresis}, {debounce})
sensor.reset(0, stable=False)
results = []
first_light = -1
for index in range(len(levels)):
    position[0] = index
    now = index * 10
    if sensor.sample(now) and first_light < 0:
        first_light = now
print(json.dumps(first_light))
"""


def _first_light(run_firmware_script, levels: list[int]) -> int:
    result = run_firmware_script(
        FIRST_LIGHT.format(
            levels=levels, threshold=THRESHOLD, hysteresis=HYSTERESIS, debounce=DEBOUNCE_MS
        )
    )
    return json.loads(result.stdout)


def _pulse(
    light_ms: int, total_ms: int = 1500, start_ms: int = 100, level: int = LIGHT
) -> list[int]:
    return [level if start_ms <= t < start_ms + light_ms else DARK for t in range(0, total_ms, 10)]


def test_flash_of_50_ms_does_not_trigger(run_firmware_script):
    assert _first_light(run_firmware_script, _pulse(50)) == -1


def test_light_of_500_ms_triggers_after_debounce(run_firmware_script):
    assert _first_light(run_firmware_script, _pulse(500)) == 100 + DEBOUNCE_MS


def test_light_just_shorter_than_debounce_does_not_trigger(run_firmware_script):
    assert _first_light(run_firmware_script, _pulse(DEBOUNCE_MS - 10)) == -1


def test_repeated_flashes_do_not_add_up(run_firmware_script):
    levels = [DARK] * 10
    for _ in range(8):
        levels += [LIGHT] * 12 + [DARK] * 3  # 120 ms of light, 30 ms of dark
    assert _first_light(run_firmware_script, levels) == -1


def test_noise_inside_hysteresis_band_keeps_light(run_firmware_script):
    # Once light, levels between threshold - hysteresis and threshold still
    # count as light, so the debounce timer is not restarted by the dips.
    band = THRESHOLD - HYSTERESIS // 2
    levels = [DARK] * 10 + [LIGHT, band] * 20
    assert _first_light(run_firmware_script, levels) == 100 + DEBOUNCE_MS


def test_level_below_threshold_never_triggers(run_firmware_script):
    assert _first_light(run_firmware_script, _pulse(1000, level=THRESHOLD - 1)) == -1


def test_dark_needs_the_debounce_too(run_firmware_script):
    result = run_firmware_script(
        """
        import json
        from light import Debouncer
        debouncer = Debouncer(200, stable=True)
        states = []
        for now, raw in ((0, True), (10, False), (100, True), (110, False), (300, False), (320, False)):
            states.append(debouncer.update(raw, now))
        print(json.dumps([states, debouncer.stable_since]))
        """
    )
    states, stable_since = json.loads(result.stdout)

    assert states == [True, True, True, True, True, False]
    assert stable_since == 110

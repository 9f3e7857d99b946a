"""The crying loop cry.pcm: its format, its sound, and that tools/make_cry.py makes it."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from pathlib import Path

from simulator.vboard import FIRMWARE_DIR

SAMPLE_RATE = 8000
ASSET = FIRMWARE_DIR / "cry.pcm"
MAKE_CRY = FIRMWARE_DIR / "tools" / "make_cry.py"


def samples_of(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def rms(values: list[int]) -> float:
    return math.sqrt(sum(value * value for value in values) / len(values))


def pitch_hz(values: list[int]) -> float:
    # Autocorrelation between 125 Hz and 1000 Hz. The first lag that scores
    # at least 70 % of the best one gives the period. The best lag alone is
    # often two periods, because one period rarely spans a whole number of
    # samples.
    scores = {
        lag: sum(values[i] * values[i + lag] for i in range(len(values) - lag))
        for lag in range(SAMPLE_RATE // 1000, SAMPLE_RATE // 125 + 1)
    }
    best = max(scores.values())
    lags = sorted(scores)
    for before, lag, after in zip(lags, lags[1:], lags[2:]):
        if scores[lag] >= 0.7 * best and scores[before] <= scores[lag] >= scores[after]:
            return SAMPLE_RATE / lag
    return SAMPLE_RATE / max(scores, key=scores.__getitem__)


def test_asset_format_and_size():
    data = ASSET.read_bytes()
    duration_s = len(data) / 2 / SAMPLE_RATE

    assert len(data) % 2 == 0
    assert 1.0 <= duration_s <= 3.0
    assert len(data) <= 48 * 1024
    # firmware/cry.py writes it in whole 512-byte chunks only through a
    # wrap-around read, which needs at least one chunk of sound.
    assert len(data) >= 512


def test_asset_is_loud_with_quiet_loop_seam():
    values = samples_of(ASSET.read_bytes())
    edge = SAMPLE_RATE // 100  # 10 ms at each end

    assert rms(values) > 5000
    assert max(abs(value) for value in values) > 20000
    assert rms(values[:edge]) < 500
    assert rms(values[-edge:]) < 500


def test_asset_pitch_is_an_infant_cry():
    values = samples_of(ASSET.read_bytes())
    middle_of_first_burst = values[int(0.3 * SAMPLE_RATE) : int(0.35 * SAMPLE_RATE)]
    middle_of_second_burst = values[int(1.4 * SAMPLE_RATE) : int(1.45 * SAMPLE_RATE)]

    # An infant cries at about 350-600 Hz; an adult voice is far lower.
    assert 350 <= pitch_hz(middle_of_first_burst) <= 650
    assert 350 <= pitch_hz(middle_of_second_burst) <= 650


def test_make_cry_reproduces_committed_asset(tmp_path: Path):
    output = tmp_path / "cry.pcm"
    wav = tmp_path / "cry.wav"

    subprocess.run(
        [sys.executable, str(MAKE_CRY), "--output", str(output), "--wav", str(wav)],
        check=True,
        capture_output=True,
    )

    regenerated = samples_of(output.read_bytes())
    committed = samples_of(ASSET.read_bytes())
    assert len(regenerated) == len(committed)
    # The floating-point maths of another C library may round a sample
    # differently, by one step at most.
    assert max(abs(a - b) for a, b in zip(regenerated, committed, strict=True)) <= 1
    assert wav.read_bytes()[:4] == b"RIFF"

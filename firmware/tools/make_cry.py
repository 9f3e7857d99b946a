"""Synthesize the sticker's crying loop into firmware/cry.pcm.

Runs on CPython with the standard library only. The sound is additive
synthesis of an infant cry: two "waaah" bursts with a short gasp between
them. The pitch rises and falls around 450 Hz, with vibrato and jitter.
Three vowel formants, gliding from "w" to "a", shape the harmonics. Breath
noise and a little soft clipping give the rough edge of a real cry. Both
ends of the loop are near silence, so it repeats without a click.

Output: raw 16-bit signed little-endian mono PCM at 8 kHz, the format that
firmware/cry.py streams to I2S. The noise comes from a seeded generator, so
every run writes the same file.

    python firmware/tools/make_cry.py              # rewrite firmware/cry.pcm
    python firmware/tools/make_cry.py --wav cry.wav  # also write a WAV to listen to
"""

import argparse
import math
import random
import struct
import wave
from pathlib import Path

SAMPLE_RATE = 8000
LOOP_SECONDS = 2.0
PEAK = 0.85 * 32767
SEED = 20260101
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "cry.pcm"

# (start s, end s, start pitch Hz, peak pitch Hz, end pitch Hz)
BURSTS = (
    (0.03, 0.88, 430.0, 560.0, 390.0),
    (1.12, 1.90, 460.0, 600.0, 410.0),
)
# The gasp: a short breath noise drawn in between the bursts.
GASP = (0.95, 1.07)
# Formants (centre Hz, bandwidth Hz, gain) of "w" and of an infant's "a".
FORMANTS_W = ((350.0, 150.0, 1.0), (800.0, 200.0, 0.5), (2600.0, 400.0, 0.1))
FORMANTS_A = ((1100.0, 250.0, 1.0), (2000.0, 300.0, 0.7), (3400.0, 450.0, 0.3))
ONSET_GLIDE_S = 0.09
ATTACK_S = 0.06
RELEASE_S = 0.16


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _pitch(burst: tuple[float, float, float, float, float], t: float) -> float:
    # Rise to the peak in the first third of the burst, then fall.
    start, end, low, high, last = burst
    position = (t - start) / (end - start)
    if position < 0.33:
        return low + (high - low) * _smoothstep(position / 0.33)
    return high + (last - high) * _smoothstep((position - 0.33) / 0.67)


def _envelope(burst: tuple[float, float, float, float, float], t: float) -> float:
    start, end = burst[0], burst[1]
    attack = _smoothstep((t - start) / ATTACK_S)
    release = _smoothstep((end - t) / RELEASE_S)
    return attack * release


def _formant_gain(frequency: float, glide: float) -> float:
    # Spectral envelope at one frequency: resonance curves of the formants,
    # interpolated from "w" (glide 0) to "a" (glide 1).
    gain = 0.0
    for (w_centre, w_width, w_gain), (a_centre, a_width, a_gain) in zip(FORMANTS_W, FORMANTS_A):
        centre = w_centre + (a_centre - w_centre) * glide
        width = w_width + (a_width - w_width) * glide
        peak = w_gain + (a_gain - w_gain) * glide
        gain += peak / (1.0 + ((frequency - centre) / width) ** 2)
    return gain


def synthesize() -> list[float]:
    """Return the loop as floats in -1..1."""
    rng = random.Random(SEED)
    count = int(SAMPLE_RATE * LOOP_SECONDS)
    samples = [0.0] * count
    nyquist = SAMPLE_RATE / 2

    for burst in BURSTS:
        start, end = burst[0], burst[1]
        phase = 0.0
        jitter = 0.0
        for index in range(int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)):
            t = index / SAMPLE_RATE
            # Vibrato at 6 Hz, +-2.5 %, and a slow random walk of the pitch.
            jitter = 0.995 * jitter + rng.gauss(0.0, 0.0015)
            pitch = _pitch(burst, t) * (1.0 + 0.025 * math.sin(2 * math.pi * 6.0 * t) + jitter)
            phase += 2 * math.pi * pitch / SAMPLE_RATE
            glide = _smoothstep((t - start) / ONSET_GLIDE_S)
            voice = 0.0
            harmonic = 1
            while harmonic * pitch < nyquist - 200:
                amplitude = _formant_gain(harmonic * pitch, glide) / harmonic**0.6
                voice += amplitude * math.sin(harmonic * phase)
                harmonic += 1
            # Roughness: a slight 35 Hz tremor and breath noise under the voice.
            voice *= 1.0 + 0.12 * math.sin(2 * math.pi * 35.0 * t)
            voice += 0.06 * rng.uniform(-1.0, 1.0)
            samples[index] += _envelope(burst, t) * voice

    gasp_start, gasp_end = GASP
    smoothed = 0.0
    for index in range(int(gasp_start * SAMPLE_RATE), int(gasp_end * SAMPLE_RATE)):
        t = index / SAMPLE_RATE
        # One-pole low-pass noise: a breath, not a hiss.
        smoothed = 0.7 * smoothed + 0.3 * rng.uniform(-1.0, 1.0)
        shape = math.sin(math.pi * (t - gasp_start) / (gasp_end - gasp_start))
        samples[index] += 0.25 * shape * smoothed

    peak = max(abs(value) for value in samples)
    # Soft clipping adds the strained edge of a cry, then normalize.
    clipped = [math.tanh(1.6 * value / peak) for value in samples]
    top = max(abs(value) for value in clipped)
    return [value / top for value in clipped]


def to_pcm(samples: list[float]) -> bytes:
    values = [max(-32768, min(32767, round(value * PEAK))) for value in samples]
    return struct.pack(f"<{len(values)}h", *values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="raw PCM file to write")
    parser.add_argument("--wav", type=Path, help="also write the loop as a WAV file")
    arguments = parser.parse_args()

    pcm = to_pcm(synthesize())
    arguments.output.write_bytes(pcm)
    if arguments.wav:
        with wave.open(str(arguments.wav), "wb") as stream:
            stream.setnchannels(1)
            stream.setsampwidth(2)
            stream.setframerate(SAMPLE_RATE)
            stream.writeframes(pcm)
    print(
        f"wrote {arguments.output}: {len(pcm)} bytes, {len(pcm) / 2 / SAMPLE_RATE:.2f} s at {SAMPLE_RATE} Hz"
    )


if __name__ == "__main__":
    main()

# Light detection: a Schmitt trigger on the ADC level (threshold and
# hysteresis) followed by a debouncer, so a short flash of light while letters
# are sorted does not count as the letter being opened.


class Debouncer:
    # A boolean input whose stable value changes only after the raw value has
    # kept the new value for settle_ms. Times are uptime milliseconds.

    def __init__(self, settle_ms, stable=False, now_ms=0):
        self.settle_ms = settle_ms
        self.reset(stable, now_ms)

    def reset(self, stable, now_ms):
        self.stable = stable
        self.raw = stable
        self.raw_since = now_ms
        # When the raw input took the current stable value.
        self.stable_since = now_ms

    def update(self, raw, now_ms):
        if raw != self.raw:
            self.raw = raw
            self.raw_since = now_ms
        if raw != self.stable and now_ms - self.raw_since >= self.settle_ms:
            self.stable = raw
            self.stable_since = self.raw_since
        return self.stable

    def raw_held_ms(self, now_ms):
        # Return how long the raw input has had its current value.
        return now_ms - self.raw_since


class LightSensor:
    # Debounced light state from an ADC reading (0..65535). The level must
    # reach threshold to count as light, and fall below threshold - hysteresis
    # to count as dark again.

    def __init__(self, read_level, threshold, hysteresis, debounce_ms):
        self._read_level = read_level
        self.threshold = threshold
        self.hysteresis = hysteresis
        self.level = 0
        self.debouncer = Debouncer(debounce_ms)

    def classify(self, level, was_light):
        if was_light:
            return level >= self.threshold - self.hysteresis
        return level >= self.threshold

    def reset(self, now_ms, stable=None):
        # Start from the current reading, or from the given stable state (for
        # example dark after waking from the armed deep sleep).
        self.level = self._read_level()
        raw = self.level >= self.threshold
        self.debouncer.reset(raw if stable is None else stable, now_ms)
        self.debouncer.update(raw, now_ms)

    def sample(self, now_ms):
        # Read the ADC once and return the debounced light state.
        self.level = self._read_level()
        raw = self.classify(self.level, self.debouncer.raw)
        return self.debouncer.update(raw, now_ms)

    @property
    def light(self):
        return self.debouncer.stable

    @property
    def raw_light(self):
        return self.debouncer.raw

    def raw_held_ms(self, now_ms):
        return self.debouncer.raw_held_ms(now_ms)

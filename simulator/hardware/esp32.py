# Simulated esp32 module of the virtual board: deep-sleep wake sources.
import _vboard

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

_RTC_GPIOS = range(22)  # ESP32-S3: GPIO0..GPIO21 can wake the chip


def _gpio(pin):
    gpio = pin.id if hasattr(pin, "id") else pin
    if gpio not in _RTC_GPIOS:
        raise ValueError("invalid pin for wake: GPIO%d is not an RTC GPIO" % gpio)
    return gpio


def wake_on_ext0(pin, level):
    if pin is None:
        _vboard.wake_sources["ext0"] = None
        return
    _vboard.wake_sources["ext0"] = {"pin": _gpio(pin), "level": 1 if level else 0}


def wake_on_ext1(pins, level):
    if not pins:
        _vboard.wake_sources["ext1"] = None
        return
    _vboard.wake_sources["ext1"] = {
        "pins": [_gpio(pin) for pin in pins],
        "level": 1 if level else 0,
    }

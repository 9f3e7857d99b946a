# Structured log lines on the console (USB serial on the device, console.log on
# the virtual board): "<uptime ms> <level> <event> key=value ...".
import time

_start = time.ticks_ms()
_clock = None


def set_clock(clock):
    # The application passes the board's uptime so log times match event times.
    global _clock
    _clock = clock


def _now():
    if _clock is not None:
        return _clock()
    return time.ticks_diff(time.ticks_ms(), _start)


def _quote(value):
    text = str(value)
    if not text or " " in text or "=" in text or '"' in text:
        return repr(text)
    return text


def _emit(level, event, fields):
    parts = ["%8d" % _now(), level, event]
    for name in sorted(fields):
        parts.append(name + "=" + _quote(fields[name]))
    print(" ".join(parts))


def info(event, **fields):
    _emit("info", event, fields)


def warning(event, **fields):
    _emit("warn", event, fields)


def error(event, **fields):
    _emit("error", event, fields)

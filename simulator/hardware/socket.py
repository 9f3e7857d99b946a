# Simulated socket module of the virtual board: the host's sockets (the
# unix port's built-in module, imported as usocket), with the broker fault
# of inputs.json applied to connections to the broker's host and port:
#
#   "broker_down": {"host": ..., "port": ..., "mode": ..., "until": ...}
#
#   mode "refuse"  connect() fails with ECONNREFUSED, and an open connection
#                  is reset (ECONNRESET) at its next read or write, as when
#                  the broker process is down
#   mode "drop"    packets are lost: connect() and reads wait for the
#                  socket's timeout and fail with ETIMEDOUT; writes are held
#                  and sent when the fault ends, as TCP retransmits them
#
# The fault ends at "until" (Unix time in seconds; null: when removed).
# Other connections, such as the UART link to the simulated modem, pass
# unchanged.
import errno
import time

import usocket
from micropython import const
from usocket import *  # the built-in module's constants and functions

try:
    import _vboard
except ImportError:
    # Outside a virtual board (no VBOARD_DIR): plain sockets, no faults.
    _vboard = None

_CHECK_US = const(50000)  # inputs.json is read at most this often
_WAIT_STEP_MS = const(50)

_fault = {"checked_us": -_CHECK_US, "value": None}
_resolved = {}


def _broker_address(host, port):
    key = (host, port)
    if key not in _resolved:
        _resolved[key] = usocket.getaddrinfo(host, port, 0, usocket.SOCK_STREAM)[0][-1]
    return _resolved[key]


def _active_fault():
    # Return (mode, address) of the broker fault in force, or None.
    if _vboard is None:
        return None
    now = _vboard.now_us()
    if now - _fault["checked_us"] >= _CHECK_US:
        _fault["checked_us"] = now
        _fault["value"] = _vboard.inputs().get("broker_down")
    fault = _fault["value"]
    if not fault:
        return None
    until = fault.get("until")
    if until is not None and now >= until * 1000000:
        return None
    return fault["mode"], _broker_address(fault["host"], int(fault["port"]))


def _mode_for(address):
    fault = _active_fault()
    if fault is None or address is None or fault[1] != address:
        return None
    return fault[0]


class socket:
    def __init__(self, *args):
        self._sock = usocket.socket(*args)
        self._address = None
        self._timeout_s = None
        self._unsent = bytearray()

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _wait_while_dropped(self, address):
        # Wait for the socket timeout, or until the fault ends. Return True
        # when the timeout passed with the fault still in force.
        started = time.ticks_ms()
        while _mode_for(address) == "drop":
            if self._timeout_s is not None and (
                time.ticks_diff(time.ticks_ms(), started) >= self._timeout_s * 1000
            ):
                return True
            time.sleep_ms(_WAIT_STEP_MS)
        return False

    def _check(self):
        # Apply the fault to the open connection. Return True while packets
        # are dropped.
        mode = _mode_for(self._address)
        if mode == "refuse":
            self._sock.close()
            self._address = None
            raise OSError(errno.ECONNRESET)
        if mode == "drop":
            return True
        if self._unsent:
            unsent = bytes(self._unsent)
            self._unsent = bytearray()
            self._sock.write(unsent)
        return False

    def connect(self, address):
        mode = _mode_for(address)
        if mode == "refuse":
            raise OSError(errno.ECONNREFUSED)
        if mode == "drop" and self._wait_while_dropped(address):
            raise OSError(errno.ETIMEDOUT)
        self._sock.connect(address)
        self._address = address

    def settimeout(self, value):
        self._timeout_s = value
        self._sock.settimeout(value)

    def setblocking(self, flag):
        self._timeout_s = None if flag else 0
        self._sock.setblocking(flag)

    def _read_check(self):
        if self._check() and self._wait_while_dropped(self._address):
            # What a read that got nothing raises: EAGAIN without a wait.
            raise OSError(errno.EAGAIN if self._timeout_s == 0 else errno.ETIMEDOUT)
        self._check()

    def write(self, data):
        if self._check():
            self._unsent.extend(data)
            return len(data)
        return self._sock.write(data)

    def send(self, data):
        return self.write(data)

    def readinto(self, buf, *size):
        self._read_check()
        return self._sock.readinto(buf, *size)

    def read(self, *size):
        self._read_check()
        return self._sock.read(*size)

    def recv(self, size):
        self._read_check()
        return self._sock.recv(size)

    def close(self):
        self._address = None
        self._sock.close()

"""The simulated socket module's broker fault, on MicroPython against a TCP server on 127.0.0.1."""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from pathlib import Path

from simulator.upython import run_micropython
from simulator.vboard import HARDWARE_MODULES_DIR

SCRIPT = """
import json
import os
import socket
import time

def set_fault(mode, port={port}, until=None):
    fault = None if mode is None else {{"host": "127.0.0.1", "port": port, "mode": mode, "until": until}}
    # Replaced by a rename, as the host writes it.
    with open({inputs!r} + ".tmp", "w") as stream:
        stream.write(json.dumps({{"broker_down": fault}}))
    os.rename({inputs!r} + ".tmp", {inputs!r})
    time.sleep_ms(80)  # the socket module reads inputs.json at most every 50 ms

def connect(address):
    sock = socket.socket()
    sock.settimeout(0.3)
    sock.connect(address)
    return sock

def attempt(action):
    try:
        return action()
    except OSError as error:
        return "errno %d" % error.errno

broker = socket.getaddrinfo("127.0.0.1", {port}, 0, socket.SOCK_STREAM)[0][-1]
other = socket.getaddrinfo("127.0.0.1", {other_port}, 0, socket.SOCK_STREAM)[0][-1]
results = {{}}

connection = socket.socket()
connection.settimeout(0.3)
connection.connect(broker)
connection.write(b"one,")

set_fault("drop")
results["held_write"] = connection.write(b"two,")
started = time.ticks_ms()
results["dropped_read"] = attempt(lambda: connection.readinto(bytearray(1)))
results["dropped_read_ms"] = time.ticks_diff(time.ticks_ms(), started)
results["dropped_connect"] = attempt(lambda: connect(broker))

set_fault(None)
connection.write(b"three,")

set_fault("refuse")
results["refused_connect"] = attempt(lambda: connect(broker))
results["reset_write"] = attempt(lambda: connection.write(b"four,"))
unaffected = connect(other)
results["other_port"] = unaffected.write(b"x")
unaffected.close()

set_fault("refuse", until=time.time() - 1)
late = connect(broker)
results["after_until"] = late.write(b"late")
late.close()
print(json.dumps(results))
"""


class Server:
    """A TCP server on 127.0.0.1 that records what each connection sent until it closed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._record, args=(connection,), daemon=True).start()

    def _record(self, connection: socket.socket) -> None:
        data = b""
        with connection:
            while chunk := connection.recv(4096):
                data += chunk
        self.received.append(data)

    def close(self) -> None:
        self.listener.close()


def test_broker_fault_refuses_drops_and_resets(micropython_available, tmp_path: Path):
    broker, other = Server(), Server()
    inputs = tmp_path / "inputs.json"
    inputs.write_text("{}")
    try:
        result = run_micropython(
            "-c",
            SCRIPT.format(port=broker.port, other_port=other.port, inputs=str(inputs)),
            cwd=tmp_path,
            path=[HARDWARE_MODULES_DIR],
            env={"VBOARD_DIR": str(tmp_path)},
            timeout=20,
        )
        deadline = time.monotonic() + 5
        while len(broker.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        broker.close()
        other.close()
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout.strip().splitlines()[-1])

    assert results["held_write"] == 4
    assert results["dropped_read"] == f"errno {errno.ETIMEDOUT}"
    assert results["dropped_read_ms"] >= 300
    assert results["dropped_connect"] == f"errno {errno.ETIMEDOUT}"
    assert results["refused_connect"] == f"errno {errno.ECONNREFUSED}"
    assert results["reset_write"] == f"errno {errno.ECONNRESET}"
    assert results["other_port"] == 1
    assert results["after_until"] == 4
    # Held while dropped, sent when the fault ended; the reset closed the connection.
    assert b"one,two,three," in broker.received
    assert b"late" in broker.received

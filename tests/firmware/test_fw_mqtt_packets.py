"""MQTT 3.1.1 packets of the firmware client (mqtt.py) under MicroPython.

The client talks to a fake socket; the expected bytes are built here from
the MQTT 3.1.1 specification, independently of the firmware.
"""

from __future__ import annotations

import json

from simulator.brokers import free_port

FAKE_SOCKET = """
import errno
import json
from mqtt import MQTTClient, MQTTError

class FakeSocket:
    # Returns the queued incoming bytes, then times out like a silent broker.
    def __init__(self, incoming=b""):
        self.incoming = bytearray(incoming)
        self.sent = bytearray()
        self.timeouts = []
        self.closed = False

    def settimeout(self, seconds):
        self.timeouts.append(seconds)

    def write(self, data):
        self.sent.extend(data)
        return len(data)

    def readinto(self, buf):
        if not self.incoming:
            raise OSError(errno.ETIMEDOUT)
        count = min(len(buf), len(self.incoming))
        buf[:count] = self.incoming[:count]
        self.incoming = self.incoming[count:]
        return count

    def close(self):
        self.closed = True

def report(**values):
    for name in values:
        if isinstance(values[name], (bytes, bytearray)):
            values[name] = bytes(values[name]).hex()
    print(json.dumps(values))
"""

CONNACK_OK = bytes((0x20, 0x02, 0x00, 0x00))


def mqtt_string(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        byte = length % 128
        length //= 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def publish_packet(
    topic: bytes, payload: bytes, qos: int, packet_id: int = 0, retain: bool = False
) -> bytes:
    body = mqtt_string(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes((0x30 | qos << 1 | int(retain),)) + remaining_length(len(body)) + body


def puback(packet_id: int) -> bytes:
    return bytes((0x40, 0x02)) + packet_id.to_bytes(2, "big")


def _run(run_firmware_script, body: str) -> dict:
    result = run_firmware_script(FAKE_SOCKET + body)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_connect_packet_with_will_and_credentials(run_firmware_script):
    values = _run(
        run_firmware_script,
        """
client = MQTTClient("stk-1", user="stk-1", password="0123abcd", keepalive_s=60)
client.set_last_will("ikki/v1/stickers/stk-1/status", b"offline", retain=True, qos=1)
sock = FakeSocket(bytes((0x20, 0x02, 0x01, 0x00)))
session_present = client.connect(sock)
report(sent=sock.sent, session_present=session_present, connected=client.connected)
""",
    )

    body = (
        mqtt_string(b"MQTT")
        + bytes(
            (4, 0xEE)
        )  # level 4; flags: user, password, will retain, will QoS 1, will, clean session
        + (60).to_bytes(2, "big")
        + mqtt_string(b"stk-1")
        + mqtt_string(b"ikki/v1/stickers/stk-1/status")
        + mqtt_string(b"offline")
        + mqtt_string(b"stk-1")
        + mqtt_string(b"0123abcd")
    )
    assert bytes.fromhex(values["sent"]) == b"\x10" + remaining_length(len(body)) + body
    assert values["session_present"] is True
    assert values["connected"] is True


def test_connect_without_will_or_credentials(run_firmware_script):
    values = _run(
        run_firmware_script,
        """
client = MQTTClient("c", keepalive_s=0)
sock = FakeSocket(CONNACK)
client.connect(sock, clean_session=False)
report(sent=sock.sent)
""".replace("CONNACK", repr(CONNACK_OK)),
    )

    body = mqtt_string(b"MQTT") + bytes((4, 0x00)) + (0).to_bytes(2, "big") + mqtt_string(b"c")
    assert bytes.fromhex(values["sent"]) == b"\x10" + remaining_length(len(body)) + body


def test_connack_refusal_raises_and_closes(run_firmware_script):
    values = _run(
        run_firmware_script,
        """
client = MQTTClient("stk-1", user="stk-1", password="wrong")
sock = FakeSocket(bytes((0x20, 0x02, 0x00, 0x04)))
try:
    client.connect(sock)
    error = None
except MQTTError as caught:
    error = str(caught)
report(error=error, closed=sock.closed, connected=client.connected)
""",
    )

    assert values["error"] == "connection refused by broker: 4 bad user name or password"
    assert values["closed"] is True
    assert values["connected"] is False


def test_publish_qos1_bytes_and_puback(run_firmware_script):
    payload = b'{"seq":1}'
    incoming = CONNACK_OK + puback(1) + puback(2)
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1")
sock = FakeSocket({incoming!r})
client.connect(sock)
sock.sent = bytearray()
first = client.publish("ikki/v1/stickers/stk-1/events", {payload!r}, qos=1)
second = client.publish("ikki/v1/stickers/stk-1/events", {payload!r}, qos=1)
report(sent=sock.sent, first=first, second=second, left=sock.incoming)
""",
    )

    topic = b"ikki/v1/stickers/stk-1/events"
    assert bytes.fromhex(values["sent"]) == publish_packet(topic, payload, 1, 1) + publish_packet(
        topic, payload, 1, 2
    )
    assert (values["first"], values["second"]) == (1, 2)
    assert values["left"] == ""


def test_puback_for_other_packet_id_is_skipped(run_firmware_script):
    # A stale PUBACK (id 7) and a PINGRESP arrive before the right PUBACK.
    incoming = CONNACK_OK + puback(7) + bytes((0xD0, 0x00)) + puback(1)
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1")
sock = FakeSocket({incoming!r})
client.connect(sock)
packet_id = client.publish("t", b"x", qos=1)
report(packet_id=packet_id, left=sock.incoming, connected=client.connected)
""",
    )

    assert values == {"packet_id": 1, "left": "", "connected": True}


def test_missing_puback_raises_and_closes(run_firmware_script):
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1", timeout_ms=200)
sock = FakeSocket({CONNACK_OK + puback(9)!r})
client.connect(sock)
try:
    client.publish("t", b"x", qos=1)
    error = None
except MQTTError as caught:
    error = str(caught)
report(error=error, closed=sock.closed, connected=client.connected)
""",
    )

    assert values["error"] == "PUBACK for packet 1 timed out after 200 ms"
    assert values["closed"] is True
    assert values["connected"] is False


def test_publish_qos0_retained_does_not_wait(run_firmware_script):
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1")
sock = FakeSocket({CONNACK_OK!r})
client.connect(sock)
sock.sent = bytearray()
packet_id = client.publish("s", b"online", qos=0, retain=True)
report(sent=sock.sent, packet_id=packet_id)
""",
    )

    assert bytes.fromhex(values["sent"]) == publish_packet(b"s", b"online", 0, retain=True)
    assert values["packet_id"] == 0


def test_long_payload_uses_multi_byte_remaining_length(run_firmware_script):
    payload = bytes(range(256)) * 80  # 20480 bytes: 3-byte remaining length
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1")
sock = FakeSocket({CONNACK_OK + puback(1)!r})
client.connect(sock)
sock.sent = bytearray()
client.publish("big", bytes(range(256)) * 80, qos=1)
report(sent=sock.sent)
""",
    )

    expected = publish_packet(b"big", payload, 1, 1)
    assert expected[1:4] == remaining_length(len(payload) + 7)
    assert len(remaining_length(len(payload) + 7)) == 3
    assert bytes.fromhex(values["sent"]) == expected


def test_ping_and_disconnect_bytes(run_firmware_script):
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1")
sock = FakeSocket({CONNACK_OK + bytes((0xD0, 0x00))!r})
client.connect(sock)
sock.sent = bytearray()
client.ping()
client.disconnect()
report(sent=sock.sent, closed=sock.closed, connected=client.connected)
""",
    )

    assert bytes.fromhex(values["sent"]) == bytes((0xC0, 0x00, 0xE0, 0x00))
    assert values["closed"] is True
    assert values["connected"] is False


def test_packet_ids_wrap_and_skip_zero(run_firmware_script):
    values = _run(
        run_firmware_script,
        """
client = MQTTClient("stk-1")
client._packet_id = 65534
report(ids=[client._next_packet_id() for _ in range(3)])
""",
    )

    assert values["ids"] == [65535, 1, 2]


def test_silent_broker_times_out_on_real_socket(run_firmware_script):
    # A listening socket that accepts and never sends anything: waiting for CONNACK,
    # then for PUBACK, must each fail after the client timeout.
    port = free_port()
    values = _run(
        run_firmware_script,
        f"""
import socket
import time
address = socket.getaddrinfo("127.0.0.1", {port})[0][-1]
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(address)
server.listen(2)
results = {{}}
for name in ("connack", "puback"):
    client = MQTTClient("stk-1", timeout_ms=300)
    sock = socket.socket()
    sock.connect(address)
    peer, _ = server.accept()
    if name == "puback":
        peer.write(bytes((0x20, 0x02, 0x00, 0x00)))
        client.connect(sock)
    started = time.ticks_ms()
    try:
        if name == "puback":
            client.publish("t", b"x", qos=1)
        else:
            client.connect(sock)
        results[name] = "no error"
    except MQTTError as caught:
        results[name] = str(caught)
    results[name + "_ms"] = time.ticks_diff(time.ticks_ms(), started)
    peer.close()
report(**results)
""",
    )

    assert values["connack"] == "CONNACK timed out after 300 ms"
    assert values["puback"] == "PUBACK for packet 1 timed out after 300 ms"
    assert 250 <= values["connack_ms"] < 1500
    assert 250 <= values["puback_ms"] < 1500


def test_broker_closing_connection_raises(run_firmware_script):
    values = _run(
        run_firmware_script,
        f"""
class ClosingSocket(FakeSocket):
    def readinto(self, buf):
        if not self.incoming:
            return 0
        return FakeSocket.readinto(self, buf)

client = MQTTClient("stk-1")
sock = ClosingSocket({CONNACK_OK!r})
client.connect(sock)
try:
    client.publish("t", b"x", qos=1)
    error = None
except MQTTError as caught:
    error = str(caught)
report(error=error, connected=client.connected)
""",
    )

    assert values == {"error": "connection closed by broker", "connected": False}


def test_qos1_resend_keeps_packet_id_and_sets_dup(run_firmware_script):
    # The first connection gets no PUBACK; the message goes again on the next
    # connection with the same packet id and the DUP flag, and nothing else
    # changes in its bytes.
    payload = b'{"seq":5,"type":"opened"}'
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1", timeout_ms=200)
client._packet_id = 41
first = FakeSocket({CONNACK_OK!r})
client.connect(first)
first.sent = bytearray()
try:
    client.publish("ikki/v1/stickers/stk-1/events", {payload!r}, qos=1)
    error = None
except MQTTError as caught:
    error = str(caught)
lost_id = client.last_packet_id
second = FakeSocket({CONNACK_OK + puback(42)!r})
client.connect(second)
second.sent = bytearray()
resent_id = client.publish("ikki/v1/stickers/stk-1/events", {payload!r}, qos=1, resend_id=lost_id)
fresh = FakeSocket({CONNACK_OK + puback(43)!r})
client.connect(fresh)
fresh.sent = bytearray()
next_id = client.publish("ikki/v1/stickers/stk-1/events", {payload!r}, qos=1)
report(error=error, lost_id=lost_id, resent_id=resent_id, next_id=next_id,
       first=first.sent, second=second.sent, left=second.incoming)
""",
    )

    topic = b"ikki/v1/stickers/stk-1/events"
    original = publish_packet(topic, payload, 1, 42)
    resent = bytes.fromhex(values["second"])
    assert values["error"] == "PUBACK for packet 42 timed out after 200 ms"
    assert bytes.fromhex(values["first"]) == original
    assert resent[0] == 0x3A  # PUBLISH, DUP, QoS 1
    assert resent[1:] == original[1:]
    assert (values["lost_id"], values["resent_id"]) == (42, 42)
    assert values["next_id"] == 43
    assert values["left"] == ""


def test_resend_id_needs_qos1(run_firmware_script):
    values = _run(
        run_firmware_script,
        f"""
client = MQTTClient("stk-1")
client.connect(FakeSocket({CONNACK_OK!r}))
try:
    client.publish("t", b"x", qos=0, resend_id=3)
    error = None
except ValueError as caught:
    error = str(caught)
report(error=error)
""",
    )

    assert values["error"] == "resend_id must be a packet id from 1 to 65535 at QoS 1"


def test_keep_alive_pings_after_half_the_interval(run_firmware_script):
    # keepalive 1 s: no PINGREQ at 0.2 s, one after 0.5 s of silence.
    values = _run(
        run_firmware_script,
        f"""
import time
client = MQTTClient("stk-1", keepalive_s=1)
sock = FakeSocket({CONNACK_OK + bytes((0xD0, 0x00))!r})
client.connect(sock)
sock.sent = bytearray()
time.sleep_ms(200)
early = client.ping_if_due()
time.sleep_ms(400)
due = client.ping_if_due()
again = client.ping_if_due()
report(early=early, due=due, again=again, sent=sock.sent, left=sock.incoming)
""",
    )

    assert values["early"] is False
    assert values["due"] is True
    assert values["again"] is False
    assert bytes.fromhex(values["sent"]) == bytes((0xC0, 0x00))
    assert values["left"] == ""

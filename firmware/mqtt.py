# MQTT 3.1.1 client for the sticker: CONNECT with last will and credentials,
# PUBLISH at QoS 0 or 1 with PUBACK matching on packet ids, SUBSCRIBE at
# QoS 0, PINGREQ for the keep-alive and DISCONNECT. Every read and write has
# a deadline, so no call blocks longer than the client's timeout. A PUBLISH
# from the broker (QoS 0 only, as subscribed) is kept in `message` when it
# fits the receive buffer; a longer one is read and dropped.
#
# The caller opens the TCP socket (through the board module) and passes it to
# connect(), so the packet code can be tested on a fake socket.
import errno
import time

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_DUP = const(0x08)  # PUBLISH flag: this packet may repeat an earlier attempt
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)  # the type with its fixed flags 0b0010
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)
_PROTOCOL_LEVEL = const(4)  # MQTT 3.1.1
_MAX_REMAINING_LENGTH = const(268435455)
# Acknowledgements are 2 to 5 bytes; a PUBLISH from the broker (the
# retained configuration) must fit here to be kept.
_RX_SIZE = const(640)
# Outgoing packets are assembled here and sent with one write, because a
# packet split over several small writes waits for the peer's delayed ACK
# (Nagle's algorithm: about 40 ms on Linux). Longer packets go out in pieces.
_TX_SIZE = const(512)

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MQTTError(Exception):
    # A refusal by the broker, a protocol violation, a closed connection or a
    # deadline that passed.
    pass


def _encode_string(value):
    if isinstance(value, str):
        value = value.encode()
    return bytes((len(value) >> 8, len(value) & 0xFF)) + value


class MQTTClient:
    def __init__(self, client_id, user=None, password=None, keepalive_s=60, timeout_ms=5000):
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.timeout_ms = timeout_ms
        self._sock = None
        self._will = None
        self._packet_id = 0
        # Packet id of the last PUBLISH sent, kept after a failure so the
        # caller can send the message again with the same id.
        self.last_packet_id = 0
        self._last_send_ms = time.ticks_ms()
        self._header = bytearray(5)  # packet type byte + up to 4 remaining-length bytes
        self._rx = bytearray(_RX_SIZE)
        self._rx_view = memoryview(self._rx)
        self._tx = bytearray(_TX_SIZE)
        self._tx_view = memoryview(self._tx)
        self._tx_length = 0
        # (topic, payload) of the last PUBLISH received, until the caller
        # takes it with take_message().
        self.message = None
        self.dropped_messages = 0

    @property
    def connected(self):
        return self._sock is not None

    def set_last_will(self, topic, message, retain=False, qos=0):
        if qos not in (0, 1):
            raise ValueError("last will QoS must be 0 or 1")
        self._will = (topic, message, retain, qos)

    def _next_packet_id(self):
        # Packet ids run 1..65535; 0 is not allowed.
        self._packet_id = self._packet_id % 65535 + 1
        return self._packet_id

    # Writing

    def _write_header(self, packet_type, remaining_length):
        if remaining_length > _MAX_REMAINING_LENGTH:
            raise ValueError("MQTT packet too long: %d bytes" % remaining_length)
        header = self._header
        header[0] = packet_type
        size = 1
        while True:
            byte = remaining_length & 0x7F
            remaining_length >>= 7
            if remaining_length:
                byte |= 0x80
            header[size] = byte
            size += 1
            if not remaining_length:
                break
        self._put(memoryview(header)[:size])

    def _put(self, data):
        # Append to the packet being assembled.
        length = len(data)
        if self._tx_length + length > _TX_SIZE:
            self._flush()
        if length > _TX_SIZE:
            self._write(data)
            return
        self._tx_view[self._tx_length : self._tx_length + length] = data
        self._tx_length += length

    def _flush(self):
        length = self._tx_length
        self._tx_length = 0
        if length:
            self._write(self._tx_view[:length])

    def _socket(self):
        sock = self._sock
        if sock is None:
            raise MQTTError("not connected")
        return sock

    def _write(self, data):
        sock = self._socket()
        sock.settimeout(self.timeout_ms / 1000)
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            count = sock.write(view[sent:])
            if not count:
                raise MQTTError("socket write timed out after %d ms" % self.timeout_ms)
            sent += count
        self._last_send_ms = time.ticks_ms()

    # Reading

    def _read_exact(self, view, deadline):
        sock = self._socket()
        received = 0
        while received < len(view):
            remaining = time.ticks_diff(deadline, time.ticks_ms())
            if remaining <= 0:
                raise OSError(errno.ETIMEDOUT)
            sock.settimeout(remaining / 1000)
            count = sock.readinto(view[received:])
            if count is None:
                raise OSError(errno.ETIMEDOUT)
            if count == 0:
                raise MQTTError("connection closed by broker")
            received += count

    def _read_packet(self, deadline):
        # Read one packet. Return (type byte, body length), the body being in
        # self._rx when it fits; a longer body is read and discarded.
        header = memoryview(self._header)
        self._read_exact(header[:1], deadline)
        packet_type = self._header[0]
        length = 0
        shift = 0
        while True:
            self._read_exact(header[1:2], deadline)
            byte = self._header[1]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTError("malformed remaining length from broker")
        left = length
        while left:
            chunk = min(left, _RX_SIZE)
            self._read_exact(self._rx_view[:chunk], deadline)
            left -= chunk
        if packet_type & 0xF0 == _PUBLISH:
            self._keep_message(packet_type, length)
        return packet_type, length

    def _keep_message(self, packet_type, length):
        # Only QoS 0 is subscribed, so no packet id follows the topic.
        rx = self._rx
        topic_length = rx[0] << 8 | rx[1] if length >= 2 else length
        if length > _RX_SIZE or packet_type & 0x06 or 2 + topic_length > length:
            self.dropped_messages += 1
            return
        self.message = (bytes(rx[2 : 2 + topic_length]).decode(), bytes(rx[2 + topic_length : length]))

    def take_message(self):
        message = self.message
        self.message = None
        return message

    def _wait_for(self, expected_type, packet_id, description):
        # Read packets until one of expected_type (with this packet id, when
        # not None) arrives, or the client timeout passes.
        deadline = time.ticks_add(time.ticks_ms(), self.timeout_ms)
        while True:
            try:
                packet_type, length = self._read_packet(deadline)
            except OSError as error:
                if error.errno in (errno.ETIMEDOUT, errno.EAGAIN):
                    raise MQTTError("%s timed out after %d ms" % (description, self.timeout_ms))
                raise
            kind = packet_type & 0xF0
            if kind != expected_type:
                # PINGRESP while waiting for a PUBACK, or a PUBLISH: nothing to do.
                continue
            if packet_id is None:
                return length
            if length >= 2 and (self._rx[0] << 8 | self._rx[1]) == packet_id:
                return length
            # An acknowledgement for an older packet id: keep waiting.

    # Operations

    def connect(self, sock, clean_session=True):
        # Send CONNECT on an open socket and wait for CONNACK. Return True when
        # the broker kept a session for this client id.
        self._sock = sock
        try:
            return self._connect(clean_session)
        except Exception:
            self.close()
            raise

    def _connect(self, clean_session):
        flags = 0x02 if clean_session else 0
        payload = [_encode_string(self.client_id)]
        if self._will is not None:
            topic, message, retain, qos = self._will
            flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
            payload.append(_encode_string(topic))
            payload.append(_encode_string(message))
        if self.user is not None:
            flags |= 0x80
            payload.append(_encode_string(self.user))
            if self.password is not None:
                flags |= 0x40
                payload.append(_encode_string(self.password))
        variable_header = bytes(
            (
                0,
                4,
                0x4D,
                0x51,
                0x54,
                0x54,
                _PROTOCOL_LEVEL,
                flags,
                self.keepalive_s >> 8,
                self.keepalive_s & 0xFF,
            )
        )
        body = variable_header + b"".join(payload)
        self._tx_length = 0
        self._write_header(_CONNECT, len(body))
        self._put(body)
        self._flush()

        length = self._wait_for(_CONNACK, None, "CONNACK")
        if length != 2:
            raise MQTTError("malformed CONNACK of %d bytes" % length)
        return_code = self._rx[1]
        if return_code:
            reason = CONNACK_REASONS.get(return_code, "unknown reason")
            raise MQTTError("connection refused by broker: %d %s" % (return_code, reason))
        return bool(self._rx[0] & 1)

    def publish(self, topic, payload, qos=0, retain=False, resend_id=0):
        # Publish and, at QoS 1, wait for the PUBACK. Return the packet id
        # (0 at QoS 0). A QoS 1 message that got no PUBACK is sent again, on
        # the next connection, with resend_id set to its packet id: the
        # packet then keeps that id and carries the DUP flag (MQTT 3.1.1,
        # section 4.4).
        if self._sock is None:
            raise MQTTError("not connected")
        if qos not in (0, 1):
            raise ValueError("QoS must be 0 or 1")
        if resend_id and not (qos and 0 < resend_id <= 65535):
            raise ValueError("resend_id must be a packet id from 1 to 65535 at QoS 1")
        topic_field = _encode_string(topic)
        packet_id = resend_id or (self._next_packet_id() if qos else 0)
        flags = qos << 1 | (1 if retain else 0) | (_DUP if resend_id else 0)
        length = len(topic_field) + len(payload) + (2 if qos else 0)
        self.last_packet_id = packet_id
        try:
            self._tx_length = 0
            self._write_header(_PUBLISH | flags, length)
            self._put(topic_field)
            if qos:
                self._put(bytes((packet_id >> 8, packet_id & 0xFF)))
            self._put(payload)
            self._flush()
            if qos:
                self._wait_for(_PUBACK, packet_id, "PUBACK for packet %d" % packet_id)
        except Exception:
            self.close()
            raise
        return packet_id

    def subscribe(self, topic):
        # Subscribe at QoS 0 and wait for the SUBACK. A retained message on
        # the topic arrives after it; read it with check_messages().
        if self._sock is None:
            raise MQTTError("not connected")
        topic_field = _encode_string(topic)
        packet_id = self._next_packet_id()
        try:
            self._tx_length = 0
            self._write_header(_SUBSCRIBE, 2 + len(topic_field) + 1)
            self._put(bytes((packet_id >> 8, packet_id & 0xFF)))
            self._put(topic_field)
            self._put(b"\x00")
            self._flush()
            length = self._wait_for(_SUBACK, packet_id, "SUBACK for packet %d" % packet_id)
        except Exception:
            self.close()
            raise
        if length != 3 or self._rx[2] == 0x80:
            raise MQTTError("subscription to %s rejected by the broker" % topic)

    def check_messages(self, wait_ms):
        # Read what the broker sends for up to wait_ms. Return True when a
        # PUBLISH is waiting in `message`.
        if self._sock is None or self.message is not None:
            return self.message is not None
        deadline = time.ticks_add(time.ticks_ms(), wait_ms)
        while self.message is None:
            try:
                self._read_packet(deadline)
            except OSError as error:
                if error.errno in (errno.ETIMEDOUT, errno.EAGAIN):
                    break
                self.close()
                raise
        return self.message is not None

    def ping(self):
        if self._sock is None:
            raise MQTTError("not connected")
        try:
            self._tx_length = 0
            self._write_header(_PINGREQ, 0)
            self._flush()
            self._wait_for(_PINGRESP, None, "PINGRESP")
        except Exception:
            self.close()
            raise

    def ping_if_due(self):
        # Send PINGREQ when half the keep-alive has passed since the last
        # packet sent; the broker drops the client after 1.5 keep-alives.
        if self._sock is None or not self.keepalive_s:
            return False
        if time.ticks_diff(time.ticks_ms(), self._last_send_ms) < self.keepalive_s * 500:
            return False
        self.ping()
        return True

    def disconnect(self):
        # Send DISCONNECT, so the broker discards the last will, and close.
        if self._sock is None:
            return
        try:
            self._tx_length = 0
            self._write_header(_DISCONNECT, 0)
            self._flush()
        finally:
            self.close()

    def close(self):
        sock = self._sock
        self._sock = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

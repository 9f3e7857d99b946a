# SIMCom SIM7080G LTE-M modem on a UART: AT commands, and MQTT through the
# modem's own client (AT+SMCONF, AT+SMCONN, AT+SMPUB, AT+SMSUB, AT+SMDISC).
# Every command has a deadline, so no call waits longer than its timeout.
# The modem's MQTT client sends PUBACKs, keep-alive pings and QoS 1 resends
# itself, so this module gets only OK or ERROR for each command.
#
import time

from micropython import const

_LINE_SIZE = const(256)
_POLL_MS = const(5)
DEFAULT_TIMEOUT_MS = const(5000)
# Network registration (AT+CEREG?): 1 = home network, 5 = roaming.
_REGISTERED = (1, 5)
_CEREG_POLL_MS = const(1000)


class ModemError(Exception):
    # The modem replied ERROR, or never reached the expected state.
    pass


class ModemTimeout(ModemError):
    pass


def _quote(value):
    text = str(value)
    if '"' in text or "\r" in text or "\n" in text:
        raise ValueError("AT string parameters cannot contain quotes or line breaks: %r" % text)
    return '"' + text + '"'


class SIM7080:
    def __init__(self, uart, timeout_ms=DEFAULT_TIMEOUT_MS):
        self._uart = uart
        self.timeout_ms = timeout_ms
        self._line = bytearray(_LINE_SIZE)
        self._line_length = 0
        # Payloads of +SMSUB notifications: (topic, message) pairs.
        self.received = []

    # Lines

    def _read_line(self, deadline, prompt=False):
        # Return the next non-empty line without its CR LF. With prompt,
        # also return as soon as the "> " data prompt arrives.
        uart = self._uart
        while True:
            if prompt and self._line_length and self._line[0] == 0x3E:
                self._line_length = 0
                return ">"
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                raise ModemTimeout("no response from the modem")
            if not uart.any():
                time.sleep_ms(_POLL_MS)
                continue
            byte = uart.read(1)
            if not byte:
                continue
            value = byte[0]
            if value == 0x0A:
                length = self._line_length
                self._line_length = 0
                text = bytes(self._line[:length]).decode().strip()
                if text:
                    return text
                continue
            if self._line_length < _LINE_SIZE:
                self._line[self._line_length] = value
                self._line_length += 1

    def _note(self, line):
        # Unsolicited notifications that arrive between responses.
        if line.startswith("+SMSUB: "):
            parts = line[8:].split(",", 1)
            if len(parts) == 2:
                self.received.append((parts[0].strip('"'), parts[1].strip('"')))
            return True
        return line.startswith(("+APP PDP", "+SMSTATE"))

    def command(self, text, timeout_ms=0, data=None):
        # Send one AT command and return the lines of its response before OK.
        # With data, wait for the "> " prompt and send the data after it.
        # Raise ModemError on ERROR and ModemTimeout after timeout_ms.
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms or self.timeout_ms)
        self._line_length = 0
        self._uart.write(text.encode() + b"\r\n")
        answer: list[str] = []
        if data is not None:
            while True:
                line = self._read_line(deadline, prompt=True)
                if line == ">":
                    break
                if line == "ERROR" or line.startswith("+CME ERROR"):
                    raise ModemError("%s failed: %s" % (text.split("=")[0], line))
            self._uart.write(data)
        while True:
            try:
                line = self._read_line(deadline)
            except ModemTimeout:
                raise ModemTimeout(
                    "%s timed out after %d ms" % (text.split("=")[0], timeout_ms or self.timeout_ms)
                )
            if line == "OK":
                return answer
            if line == "ERROR" or line.startswith("+CME ERROR"):
                raise ModemError("%s failed: %s" % (text.split("=")[0], line))
            if line == text or self._note(line):
                continue  # the command's echo, or a notification
            answer.append(line)

    # Network

    def registration(self):
        # Return the EPS registration status of AT+CEREG? (0 to 5).
        for line in self.command("AT+CEREG?"):
            if line.startswith("+CEREG: "):
                fields = line[8:].split(",")
                if len(fields) >= 2 and fields[1].strip().isdigit():
                    return int(fields[1])
        raise ModemError("no +CEREG status in the response")

    def wait_registered(self, timeout_ms):
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while True:
            status = self.registration()
            if status in _REGISTERED:
                return status
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                raise ModemError(
                    "not registered on a network after %d ms (CEREG status %d)"
                    % (timeout_ms, status)
                )
            time.sleep_ms(_CEREG_POLL_MS)

    # MQTT

    def mqtt_connect(self, host, port, client_id, user, password, keepalive_s, register_ms):
        # Register, activate the data connection and connect the modem's MQTT
        # client with a clean session.
        self.wait_registered(register_ms)
        self.command("AT+CNACT=0,1", register_ms)
        self.command("AT+SMCONF=" + _quote("URL") + "," + _quote(host) + "," + _quote(port))
        self.command("AT+SMCONF=" + _quote("CLIENTID") + "," + _quote(client_id))
        self.command("AT+SMCONF=" + _quote("USERNAME") + "," + _quote(user))
        self.command("AT+SMCONF=" + _quote("PASSWORD") + "," + _quote(password))
        self.command("AT+SMCONF=" + _quote("KEEPTIME") + ",%d" % keepalive_s)
        self.command("AT+SMCONF=" + _quote("CLEANSS") + ",1")
        self.command("AT+SMCONN", register_ms)

    def mqtt_publish(self, topic, payload, qos=1, retain=False):
        self.command(
            "AT+SMPUB=%s,%d,%d,%d" % (_quote(topic), len(payload), qos, 1 if retain else 0),
            data=payload,
        )

    def mqtt_subscribe(self, topic, qos=0):
        self.command("AT+SMSUB=%s,%d" % (_quote(topic), qos))

    def mqtt_disconnect(self):
        self.command("AT+SMDISC")
        self.command("AT+CNACT=0,0")


class ModemClient:
    # The reporter's MQTT client over the modem, with the methods of
    # mqtt.MQTTClient that the reporter uses. The modem's own client sends
    # PUBACKs, resends and keep-alive pings, so publish() returns packet id 0.
    # NOTE: no last will is configured over LTE-M yet.

    def __init__(self, modem, client_id, user, password, keepalive_s, register_ms):
        self._modem = modem
        self._client_id = client_id
        self._user = user
        self._password = password
        self.keepalive_s = keepalive_s
        self.register_ms = register_ms
        self.connected = False
        self.last_packet_id = 0

    @property
    def timeout_ms(self):
        return self._modem.timeout_ms

    @timeout_ms.setter
    def timeout_ms(self, value):
        self._modem.timeout_ms = value

    def set_last_will(self, topic, message, retain=False, qos=0):
        pass

    def open(self, host, port):
        try:
            self._modem.mqtt_connect(
                host,
                port,
                self._client_id,
                self._user,
                self._password,
                self.keepalive_s,
                self.register_ms,
            )
        except ModemError:
            self.close()
            raise
        self.connected = True

    def publish(self, topic, payload, qos=0, retain=False, resend_id=0):
        try:
            self._modem.mqtt_publish(topic, payload, qos, retain)
        except ModemError:
            self.connected = False
            raise
        return 0

    def subscribe(self, topic):
        self._modem.mqtt_subscribe(topic, 0)

    def check_messages(self, wait_ms):
        # A short command collects the notifications that arrived meanwhile.
        if not self._modem.received:
            time.sleep_ms(wait_ms)
            self._modem.command("AT")
        return bool(self._modem.received)

    def take_message(self):
        if not self._modem.received:
            return None
        topic, text = self._modem.received.pop(0)
        return topic, text.encode()

    def ping_if_due(self):
        return False

    def disconnect(self):
        self.connected = False
        self._modem.mqtt_disconnect()

    def close(self):
        self.connected = False
        try:
            self._modem.mqtt_disconnect()
        except ModemError:
            pass

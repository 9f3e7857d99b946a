# SIMCom SIM7080G LTE-M modem on a UART: AT commands, and MQTT through the
# modem's own client (AT+SMCONF, AT+SMCONN, AT+SMPUB, AT+SMSUB, AT+SMDISC).
# Every command has a deadline, so no call waits longer than its timeout.
# The modem's MQTT client sends PUBACKs, keep-alive pings and QoS 1 resends
# itself, so this module gets only OK or ERROR for each command.
#
# Power: the modem is off between uses. A PWRKEY press (through the board
# module) switches it on, AT+CPOWD=1 switches it off, and a longer PWRKEY
# press does when the modem does not confirm with NORMAL POWER DOWN.
import time

from micropython import const

import log

_LINE_SIZE = const(256)
_POLL_MS = const(5)
DEFAULT_TIMEOUT_MS = const(5000)
# PWRKEY press lengths: at least 1 s switches the SIM7080G on, at least
# 1.2 s switches it off (sources in docs/hardware.md). Each has a margin.
PWRKEY_ON_MS = const(1100)
PWRKEY_OFF_MS = const(1300)
# Maximum wait for the first response to AT after the power-on press. An
# estimate: the SIM7000 needs 4.5 s, and no SIM7080G figure was found.
POWER_ON_TIMEOUT_MS = const(10000)
# Maximum wait for NORMAL POWER DOWN after AT+CPOWD=1 (an estimate).
POWER_DOWN_TIMEOUT_MS = const(5000)
# Each AT probe waits this long for OK.
_AT_PROBE_MS = const(500)
POWER_DOWN_NOTICE = "NORMAL POWER DOWN"
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
    def __init__(self, uart, timeout_ms=DEFAULT_TIMEOUT_MS, press_power_key=None, powered=None):
        self._uart = uart
        self.timeout_ms = timeout_ms
        # Called with a duration in ms to hold PWRKEY down (Board.modem_power_key).
        self._press_power_key = press_power_key
        # True or False while the power state is known. None when it is not,
        # after a power-on reset of the chip or a press that got no response,
        # so AT probes find out.
        self.powered = powered
        # Called with the new value of `powered` whenever it is set.
        self.on_power = None
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

    def command(self, text, timeout_ms=0, data=None, until=None):
        # Send one AT command and return the lines of its response before OK.
        # With data, wait for the "> " prompt and send the data after it.
        # With until, the command ends at that line (a notification such as
        # NORMAL POWER DOWN) and not at OK.
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
            if until is not None and line == until:
                return answer
            if line == "OK":
                if until is None:
                    return answer
                continue
            if line == "ERROR" or line.startswith("+CME ERROR"):
                raise ModemError("%s failed: %s" % (text.split("=")[0], line))
            if line == text or self._note(line):
                continue  # the command's echo, or a notification
            answer.append(line)

    # Power

    def _set_powered(self, powered):
        self.powered = powered
        if self.on_power is not None:
            self.on_power(powered)

    def responds_to_at(self, timeout_ms=_AT_PROBE_MS):
        # Return True when the modem responds to AT (OK or ERROR) within timeout_ms.
        try:
            self.command("AT", timeout_ms)
        except ModemTimeout:
            return False
        except ModemError:
            return True
        return True

    def power_on(self, timeout_ms=POWER_ON_TIMEOUT_MS):
        # Switch the modem on unless it responds already, then wait until it
        # responds to AT. Return True when PWRKEY was pressed. Raise ModemTimeout
        # when it stays silent for timeout_ms after the press.
        if self.powered is not False and self.responds_to_at():
            self._set_powered(True)
            return False
        if self._press_power_key is None:
            raise ModemError(
                "the modem does not respond to AT and no PWRKEY is wired to switch it on"
            )
        self._press_power_key(PWRKEY_ON_MS)
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while time.ticks_diff(deadline, time.ticks_ms()) > 0:
            if self.responds_to_at():
                self._set_powered(True)
                return True
        # Without the modem's STATUS pin, a silent modem may be on or off.
        self._set_powered(None)
        raise ModemTimeout(
            "the modem did not respond to AT within %d ms after the PWRKEY press" % timeout_ms
        )

    def power_off(self, timeout_ms=POWER_DOWN_TIMEOUT_MS):
        # Switch the modem off: AT+CPOWD=1, or a long PWRKEY press when NORMAL
        # POWER DOWN does not come within timeout_ms. A modem whose state is
        # unknown is probed first, because a press would switch an off modem
        # on. Return "command", "power_key" or "already_off".
        if self.powered is False:
            return "already_off"
        if self.powered is None and not self.responds_to_at():
            self._set_powered(False)
            return "already_off"
        try:
            self.command("AT+CPOWD=1", timeout_ms, until=POWER_DOWN_NOTICE)
        except ModemError:
            if self._press_power_key is None:
                raise
            # NOTE: nothing confirms this press without the STATUS pin. The
            # next power_on() finds out from its AT probes.
            self._press_power_key(PWRKEY_OFF_MS)
            self._set_powered(False)
            return "power_key"
        self._set_powered(False)
        return "command"

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

    def mqtt_connect(
        self, host, port, client_id, user, password, keepalive_s, register_ms, will=None
    ):
        # Register, activate the data connection and connect the modem's MQTT
        # client with a clean session. will is (topic, message, retain, qos)
        # or None.
        self.wait_registered(register_ms)
        self.command("AT+CNACT=0,1", register_ms)
        self.command("AT+SMCONF=" + _quote("URL") + "," + _quote(host) + "," + _quote(port))
        self.command("AT+SMCONF=" + _quote("CLIENTID") + "," + _quote(client_id))
        self.command("AT+SMCONF=" + _quote("USERNAME") + "," + _quote(user))
        self.command("AT+SMCONF=" + _quote("PASSWORD") + "," + _quote(password))
        self.command("AT+SMCONF=" + _quote("KEEPTIME") + ",%d" % keepalive_s)
        self.command("AT+SMCONF=" + _quote("CLEANSS") + ",1")
        if will is not None:
            # The SMCONF tags TOPIC, MESSAGE, RETAIN and QOS set the CONNECT
            # packet's last will (sources in docs/hardware.md).
            # NOTE: no length limit of TOPIC or MESSAGE was found in the
            # documents; the status topic is at most 88 characters.
            topic, message, retain, qos = will
            self.command("AT+SMCONF=" + _quote("TOPIC") + "," + _quote(topic))
            self.command("AT+SMCONF=" + _quote("MESSAGE") + "," + _quote(message))
            self.command("AT+SMCONF=" + _quote("RETAIN") + ",%d" % (1 if retain else 0))
            self.command("AT+SMCONF=" + _quote("QOS") + ",%d" % qos)
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
    # open() switches the modem on and close() switches it off.

    def __init__(self, modem, client_id, user, password, keepalive_s, register_ms):
        self._modem = modem
        self._client_id = client_id
        self._user = user
        self._password = password
        self.keepalive_s = keepalive_s
        self.register_ms = register_ms
        self.connected = False
        self.last_packet_id = 0
        # (topic, message, retain, qos) of the last will, or None.
        self._will = None

    @property
    def timeout_ms(self):
        return self._modem.timeout_ms

    @timeout_ms.setter
    def timeout_ms(self, value):
        self._modem.timeout_ms = value

    def set_last_will(self, topic, message, retain=False, qos=0):
        if qos not in (0, 1):
            raise ValueError("last will QoS must be 0 or 1")
        if isinstance(message, bytes):
            message = message.decode()
        # Checked now: an AT string parameter cannot carry every text.
        _quote(topic)
        _quote(message)
        self._will = (topic, message, retain, qos)

    def open(self, host, port):
        # Switch the modem on and connect its MQTT client. On failure the
        # modem is switched off again.
        try:
            if self._modem.power_on():
                log.info("modem.power_on")
            self._modem.mqtt_connect(
                host,
                port,
                self._client_id,
                self._user,
                self._password,
                self.keepalive_s,
                self.register_ms,
                self._will,
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
        # AT+SMDISC, so the broker discards the last will. The modem stays on.
        self.connected = False
        self._modem.mqtt_disconnect()

    def close(self):
        # After a failure: no AT+SMDISC, the modem is switched off at once.
        # The broker loses the connection and publishes the last will.
        self.connected = False
        self.power_off()

    def power_off(self):
        # Switch the modem off. OSError and ModemError are logged, not raised.
        try:
            how = self._modem.power_off()
        except (OSError, ModemError) as error:
            log.warning("modem.power_off_failed", error=repr(error))
            return
        if how != "already_off":
            log.info("modem.power_off", how=how)

"""The SIM7080G AT-command exchange of modem.py under MicroPython, on a scripted UART.

The fake UART answers each command line with the reply scripted for it, as the
modem does (command echo off), and records every byte the firmware sends.
"""

from __future__ import annotations

import json

FAKE_UART = """
import json
from modem import SIM7080, ModemError, ModemTimeout

class ScriptedUART:
    # replies: list of (expected command line, reply bytes); a reply of None
    # means the modem stays silent.
    def __init__(self, replies):
        self.replies = list(replies)
        self.sent = bytearray()
        self.pending = bytearray()
        self.commands = []
        self.unexpected = []

    def write(self, data):
        self.sent.extend(data)
        if self.replies and self.replies[0][0] == "<data>":
            self.replies.pop(0)
            self.pending.extend(b"\\r\\nOK\\r\\n")
            return len(data)
        line = bytes(data).decode().strip()
        self.commands.append(line)
        if not self.replies:
            self.unexpected.append(line)
            return len(data)
        expected, reply = self.replies.pop(0)
        if expected != line:
            self.unexpected.append(line)
        if reply is not None:
            self.pending.extend(reply)
        return len(data)

    def any(self):
        return len(self.pending)

    def read(self, count):
        data = bytes(self.pending[:count])
        self.pending = self.pending[count:]
        return data

def outcome(action):
    try:
        action()
        return None
    except ModemTimeout as error:
        return "timeout: " + str(error)
    except ModemError as error:
        return "error: " + str(error)
"""

OK = b"\r\nOK\r\n"


def _run(run_firmware_script, body: str) -> dict:
    result = run_firmware_script(FAKE_UART + body)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_connect_sends_registration_pdp_and_mqtt_setup(run_firmware_script):
    replies = [
        ("AT+CEREG?", b"\r\n+CEREG: 0,2\r\n" + OK),
        ("AT+CEREG?", b"\r\n+CEREG: 0,1\r\n" + OK),
        ("AT+CNACT=0,1", OK + b"\r\n+APP PDP: 0,ACTIVE\r\n"),
        ('AT+SMCONF="URL","broker.example","1883"', OK),
        ('AT+SMCONF="CLIENTID","stk-1"', OK),
        ('AT+SMCONF="USERNAME","stk-1"', OK),
        ('AT+SMCONF="PASSWORD","0123abcd"', OK),
        ('AT+SMCONF="KEEPTIME",60', OK),
        ('AT+SMCONF="CLEANSS",1', OK),
        ("AT+SMCONN", OK),
    ]
    values = _run(
        run_firmware_script,
        f"""
uart = ScriptedUART({replies!r})
modem = SIM7080(uart, timeout_ms=500)
error = outcome(lambda: modem.mqtt_connect("broker.example", 1883, "stk-1", "stk-1", "0123abcd", 60, 5000))
print(json.dumps({{"error": error, "sent": bytes(uart.sent).decode(), "unexpected": uart.unexpected,
                   "left": len(uart.replies)}}))
""",
    )

    assert values["error"] is None
    assert values["unexpected"] == []
    assert values["left"] == 0
    assert values["sent"] == "".join(f"{command}\r\n" for command, _ in replies)


def test_publish_waits_for_prompt_then_sends_payload(run_firmware_script):
    payload = '{"seq":7,"type":"opened"}'
    replies = [
        (f'AT+SMPUB="ikki/v1/stickers/stk-1/events",{len(payload)},1,0', b"\r\n> "),
        ("<data>", None),
    ]
    values = _run(
        run_firmware_script,
        f"""
uart = ScriptedUART({replies!r})
modem = SIM7080(uart, timeout_ms=500)
error = outcome(lambda: modem.mqtt_publish("ikki/v1/stickers/stk-1/events", {payload.encode()!r}, qos=1))
print(json.dumps({{"error": error, "sent": bytes(uart.sent).decode(), "left": len(uart.replies)}}))
""",
    )

    assert values["error"] is None
    assert values["left"] == 0
    assert values["sent"] == (
        f'AT+SMPUB="ikki/v1/stickers/stk-1/events",{len(payload)},1,0\r\n' + payload
    )


def test_modem_error_reply_raises(run_firmware_script):
    replies = [("AT+SMCONN", b"\r\nERROR\r\n")]
    values = _run(
        run_firmware_script,
        f"""
uart = ScriptedUART({replies!r})
modem = SIM7080(uart, timeout_ms=500)
print(json.dumps({{"error": outcome(lambda: modem.command("AT+SMCONN"))}}))
""",
    )

    assert values["error"] == "error: AT+SMCONN failed: ERROR"


def test_silent_modem_times_out(run_firmware_script):
    replies = [("AT+SMDISC", None)]
    values = _run(
        run_firmware_script,
        f"""
import time
uart = ScriptedUART({replies!r})
modem = SIM7080(uart, timeout_ms=300)
started = time.ticks_ms()
error = outcome(lambda: modem.command("AT+SMDISC"))
print(json.dumps({{"error": error, "elapsed": time.ticks_diff(time.ticks_ms(), started)}}))
""",
    )

    assert values["error"] == "timeout: AT+SMDISC timed out after 300 ms"
    assert 300 <= values["elapsed"] < 2000


def test_no_registration_gives_up_with_status(run_firmware_script):
    searching = ("AT+CEREG?", b"\r\n+CEREG: 0,2\r\n" + OK)
    values = _run(
        run_firmware_script,
        f"""
uart = ScriptedUART({[searching] * 5!r})
modem = SIM7080(uart, timeout_ms=300)
error = outcome(lambda: modem.wait_registered(1500))
print(json.dumps({{"error": error, "polls": len(uart.commands)}}))
""",
    )

    assert values["error"] == "error: not registered on a network after 1500 ms (CEREG status 2)"
    assert 2 <= values["polls"] <= 3


def test_subscription_message_is_collected(run_firmware_script):
    replies = [
        (
            'AT+SMSUB="ikki/v1/stickers/stk-1/config",0',
            OK + b'\r\n+SMSUB: "ikki/v1/stickers/stk-1/config","x"\r\n',
        ),
        ("AT+SMDISC", OK),
        ("AT+CNACT=0,0", OK),
    ]
    values = _run(
        run_firmware_script,
        f"""
uart = ScriptedUART({replies!r})
modem = SIM7080(uart, timeout_ms=500)
modem.mqtt_subscribe("ikki/v1/stickers/stk-1/config")
modem.mqtt_disconnect()
print(json.dumps({{"received": modem.received, "unexpected": uart.unexpected}}))
""",
    )

    assert values["received"] == [["ikki/v1/stickers/stk-1/config", "x"]]
    assert values["unexpected"] == []


POWER = """
presses = []
power_changes = []
uart = ScriptedUART({replies!r})
modem = SIM7080(uart, timeout_ms=500, press_power_key=presses.append, powered={powered!r})
modem.on_power = power_changes.append
"""


def _power(run_firmware_script, replies: list, powered: bool | None, action: str) -> dict:
    return _run(
        run_firmware_script,
        POWER.format(replies=replies, powered=powered)
        + f"""
import time
started = time.ticks_ms()
result = []
error = outcome(lambda: result.append({action}))
print(json.dumps({{"error": error, "result": result[0] if result else None, "presses": presses,
                   "powered": modem.powered, "changes": power_changes, "commands": uart.commands,
                   "unexpected": uart.unexpected, "left": len(uart.replies),
                   "elapsed": time.ticks_diff(time.ticks_ms(), started)}}))
""",
    )


def test_power_on_presses_pwrkey_then_waits_for_at(run_firmware_script):
    replies = [("AT", None), ("AT", None), ("AT", OK)]

    values = _power(run_firmware_script, replies, None, "modem.power_on(5000)")

    assert values["error"] is None
    assert values["result"] is True
    assert values["presses"] == [1100]
    assert values["commands"] == ["AT", "AT", "AT"]
    assert values["powered"] is True
    assert values["changes"] == [True]
    assert values["unexpected"] == []


def test_power_on_of_answering_modem_does_not_press(run_firmware_script):
    values = _power(run_firmware_script, [("AT", OK)], None, "modem.power_on(5000)")

    assert values["error"] is None
    assert values["result"] is False
    assert values["presses"] == []
    assert values["powered"] is True


def test_power_on_of_modem_known_off_presses_at_once(run_firmware_script):
    values = _power(run_firmware_script, [("AT", OK)], False, "modem.power_on(5000)")

    assert values["error"] is None
    assert values["result"] is True
    assert values["presses"] == [1100]
    assert values["commands"] == ["AT"]


def test_power_on_gives_up_when_modem_stays_silent(run_firmware_script):
    values = _power(run_firmware_script, [("AT", None)] * 6, None, "modem.power_on(1200)")

    assert values["error"] == (
        "timeout: the modem did not respond to AT within 1200 ms after the PWRKEY press"
    )
    assert values["presses"] == [1100]
    assert values["powered"] is None
    assert values["changes"] == [None]
    assert 1200 <= values["elapsed"] < 3000


def test_power_off_sends_cpowd_and_waits_for_notice(run_firmware_script):
    replies = [("AT+CPOWD=1", b"\r\nNORMAL POWER DOWN\r\n")]

    values = _power(run_firmware_script, replies, True, "modem.power_off(1000)")

    assert values["error"] is None
    assert values["result"] == "command"
    assert values["presses"] == []
    assert values["powered"] is False
    assert values["changes"] == [False]
    assert values["left"] == 0


def test_power_off_ignores_ok_before_notice(run_firmware_script):
    replies = [("AT+CPOWD=1", OK)]

    values = _power(run_firmware_script, replies, True, "modem.power_off(400)")

    # OK alone does not confirm the power-down: the long press follows.
    assert values["result"] == "power_key"
    assert values["presses"] == [1300]


def test_power_off_without_notice_presses_pwrkey(run_firmware_script):
    values = _power(run_firmware_script, [("AT+CPOWD=1", None)], True, "modem.power_off(400)")

    assert values["error"] is None
    assert values["result"] == "power_key"
    assert values["presses"] == [1300]
    assert values["powered"] is False
    assert 400 <= values["elapsed"] < 2000


def test_power_off_of_silent_unknown_modem_does_not_press(run_firmware_script):
    # A press would switch on a modem that is off already.
    values = _power(run_firmware_script, [("AT", None)], None, "modem.power_off(1000)")

    assert values["result"] == "already_off"
    assert values["presses"] == []
    assert values["powered"] is False
    assert values["commands"] == ["AT"]


def test_power_off_of_modem_known_off_sends_nothing(run_firmware_script):
    values = _power(run_firmware_script, [], False, "modem.power_off(1000)")

    assert values["result"] == "already_off"
    assert values["commands"] == []
    assert values["presses"] == []


def test_connect_configures_last_will(run_firmware_script):
    will_lines = [
        ('AT+SMCONF="TOPIC","ikki/v1/stickers/stk-1/status"', OK),
        ('AT+SMCONF="MESSAGE","offline"', OK),
        ('AT+SMCONF="RETAIN",1', OK),
        ('AT+SMCONF="QOS",1', OK),
    ]
    replies = [
        ("AT", OK),
        ("AT+CEREG?", b"\r\n+CEREG: 0,1\r\n" + OK),
        ("AT+CNACT=0,1", OK),
        ('AT+SMCONF="URL","broker.example","1883"', OK),
        ('AT+SMCONF="CLIENTID","stk-1"', OK),
        ('AT+SMCONF="USERNAME","stk-1"', OK),
        ('AT+SMCONF="PASSWORD","0123abcd"', OK),
        ('AT+SMCONF="KEEPTIME",60', OK),
        ('AT+SMCONF="CLEANSS",1', OK),
        *will_lines,
        ("AT+SMCONN", OK),
    ]
    values = _run(
        run_firmware_script,
        f"""
from modem import ModemClient
uart = ScriptedUART({replies!r})
client = ModemClient(SIM7080(uart, timeout_ms=500, powered=True), "stk-1", "stk-1", "0123abcd", 60, 5000)
client.set_last_will("ikki/v1/stickers/stk-1/status", b"offline", retain=True, qos=1)
error = outcome(lambda: client.open("broker.example", 1883))
print(json.dumps({{"error": error, "connected": client.connected, "commands": uart.commands,
                   "unexpected": uart.unexpected, "left": len(uart.replies)}}))
""",
    )

    assert values["error"] is None
    assert values["connected"] is True
    assert values["unexpected"] == []
    assert values["left"] == 0
    # The power probe comes first, then the will right before SMCONN.
    assert values["commands"][0] == "AT"
    assert values["commands"][-5:] == [line for line, _ in will_lines] + ["AT+SMCONN"]


def test_last_will_with_quote_is_rejected(run_firmware_script):
    values = _run(
        run_firmware_script,
        """
from modem import ModemClient
client = ModemClient(SIM7080(ScriptedUART([]), timeout_ms=500), "stk-1", "stk-1", "x", 60, 5000)
try:
    client.set_last_will("ikki/v1/stickers/stk-1/status", b'off"line', retain=True, qos=1)
    print(json.dumps({"error": None}))
except ValueError as error:
    print(json.dumps({"error": str(error)}))
""",
    )

    assert values["error"] == (
        "AT string parameters cannot contain quotes or line breaks: 'off\"line'"
    )

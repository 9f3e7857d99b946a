"""Simulated SIMCom SIM7080G LTE-M modem: an AT-command peer that bridges MQTT to a real broker.

The virtual board's UART (``machine.UART`` in ``simulator/hardware/machine.py``) is a TCP
connection to this peer on 127.0.0.1. It answers the subset of the SIM7080G command set
that ``firmware/modem.py`` uses (``AT``, ``AT+CEREG?``, ``AT+CNACT``, ``AT+SMCONF``,
``AT+SMCONN``, ``AT+SMPUB`` with its ``> `` prompt, ``AT+SMSUB``, ``AT+SMDISC``,
``AT+CPOWD``) and runs the MQTT side with paho against the broker named in
``AT+SMCONF="URL"``, as the modem's own MQTT client would. The SMCONF tags ``TOPIC``,
``MESSAGE``, ``RETAIN`` and ``QOS`` become the connection's last will.

Power: a modem wired to a board with ``attach(board)`` starts switched off and does not
respond until the firmware holds its PWRKEY pin (``MODEM_PWRKEY_PIN`` of the board's pin
map) for at least 1 s, and then only ``boot_s`` after the release. The pin's changes are read from the
board's ``hardware.log``. A press of at least 1.2 s or ``AT+CPOWD=1`` switches it off with
``NORMAL POWER DOWN``, and so does a power loss of the board (``power_cut()``, ``stop()``)
without it. Switching off drops the MQTT connection without DISCONNECT, so the broker
publishes the last will. ``power``, ``power_periods`` and ``on_seconds()`` tell when the
modem was on. A modem not attached to a board is always on.

Faults are set on ``fault``: ``"unregistered"`` (no network: ``+CEREG: 0,2`` and ``ERROR``
for the data connection), ``"error"`` (``ERROR`` to every command) and ``"silent"`` (no
response at all). ``drop_link()`` loses the network connection to the broker.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from simulator.brokers import HOST
from simulator.vboard import PWRON_RESET, VirtualBoard, read_pinmap

log = structlog.get_logger(__name__)

Fault = Literal["unregistered", "error", "silent"] | None
Power = Literal["off", "booting", "on"]
# PWRKEY press lengths of the SIM7080G (docs/hardware.md has the sources).
PWRKEY_ON_S = 1.0
PWRKEY_OFF_S = 1.2
DEFAULT_BOOT_S = 0.3
POWER_DOWN_NOTICE = "NORMAL POWER DOWN"
_PUBLISH_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 10.0
_MONITOR_PERIOD_S = 0.01
_SMCONF = re.compile(r'^AT\+SMCONF="(\w+)",(.*)$')
_SMPUB = re.compile(r'^AT\+SMPUB="([^"]+)",(\d+),([01]),([01])$')
_SMSUB = re.compile(r'^AT\+SMSUB="([^"]+)",([01])$')


@dataclass
class PowerPeriod:
    """One time the modem was on, in seconds of time.time()."""

    on_at: float
    off_at: float | None = None
    # What switched it off: "AT+CPOWD", "PWRKEY" or "power loss".
    off_by: str | None = None

    def seconds(self, now: float) -> float:
        return (self.off_at if self.off_at is not None else now) - self.on_at


class SimulatedModem:
    """One modem, serving one UART connection at a time on 127.0.0.1:port."""

    def __init__(self, boot_s: float = DEFAULT_BOOT_S) -> None:
        self.fault: Fault = None
        self.boot_s = boot_s
        # Command lines received while on, and lines received while off or booting.
        self.commands: list[str] = []
        self.ignored: list[str] = []
        # (topic, message, qos, retain) of the last will of the latest MQTT connection.
        self.will: tuple[str, str, int, bool] | None = None
        self.power: Power = "on"
        self.power_periods: list[PowerPeriod] = [PowerPeriod(on_at=time.time())]
        self._settings: dict[str, list[str]] = {}
        self._client: mqtt.Client | None = None
        self._server = socket.create_server((HOST, 0))
        self.port = self._server.getsockname()[1]
        self._connection: socket.socket | None = None
        self._write_lock = threading.Lock()
        # Guards the power state. The UART thread holds it while it checks a
        # command line, and the monitor thread while it reads the board.
        self._power_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._monitor_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # Wiring to a virtual board (attach()).
        self._board_dir: Path | None = None
        self._pwrkey_gpio: int | None = None
        self._log_offset = 0
        self._log_rest = b""
        self._pressed_at: float | None = None
        self._ready_at = 0.0
        self._board_power: str | None = None
        self._boot_seen: int | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._serve, name="simulated-modem", daemon=True)
        self._thread.start()
        self._monitor_thread = threading.Thread(
            target=self._monitor, name="simulated-modem-power", daemon=True
        )
        self._monitor_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        # shutdown() wakes the accept() that close() alone leaves blocked on Linux.
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        if self._connection is not None:
            self._connection.close()
        self._disconnect_mqtt()
        for thread in (self._thread, self._monitor_thread):
            if thread is not None:
                thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Power

    def attach(self, board: VirtualBoard) -> None:
        """Wire this modem to an installed board: its UART, its PWRKEY pin and its supply.

        The modem is switched off until the firmware presses PWRKEY.
        """
        pinmap = board.firmware_dir / "boards" / f"{board.pinmap}.py"
        pins = read_pinmap(pinmap)
        if "MODEM_PWRKEY_PIN" not in pins:
            raise ValueError(f"pin map {pinmap} has no MODEM_PWRKEY_PIN")
        board.attach_modem(self.port)
        with self._power_lock:
            self._drop_mqtt()
            self._settings.clear()
            self.power = "off"
            self.power_periods = []
            self._board_dir = board.directory
            self._pwrkey_gpio = pins["MODEM_PWRKEY_PIN"]
            log_path = board.directory / "hardware.log"
            self._log_offset = log_path.stat().st_size if log_path.exists() else 0
            self._log_rest = b""
            self._pressed_at = None
            self._board_power = _read_json(board.directory / "supervisor.json").get("power")
            self._boot_seen = _read_json(board.directory / "boot.json").get("boot")

    def on_seconds(self) -> float:
        """Return how long the modem has been on in total, booting included."""
        now = time.time()
        return sum(period.seconds(now) for period in self.power_periods)

    def wait_for_power(self, power: Power, timeout: float = 10.0) -> None:
        """Wait until the modem's power state is `power`."""
        deadline = time.monotonic() + timeout
        while self.power != power:
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulated modem not {power!r} after {timeout} s: {self.power!r}")
            time.sleep(0.01)

    def drop_link(self) -> None:
        """Lose the network: the MQTT connection closes without DISCONNECT.

        The broker then publishes the last will, and the modem reports ``+SMSTATE: 0``.
        """
        with self._power_lock:
            if self._client is not None:
                self._drop_mqtt()
                self._reply("+SMSTATE: 0")

    def _switch_off(self, by: str, notice: bool) -> None:
        # The modem logs off at once: its MQTT connection ends without
        # DISCONNECT, and AT+SMCONF settings are lost.
        if self.power == "off":
            return
        if notice:
            self._reply(POWER_DOWN_NOTICE)
        self._drop_mqtt()
        self._settings.clear()
        self.power = "off"
        self._pressed_at = None
        period = self.power_periods[-1]
        period.off_at = time.time()
        period.off_by = by
        log.info("modem.power_off", by=by, on_s=round(period.seconds(period.off_at), 3))

    def _monitor(self) -> None:
        # Follow the board's supply and PWRKEY pin, and finish booting.
        while not self._stopping.wait(_MONITOR_PERIOD_S):
            with self._power_lock:
                if self._board_dir is None:
                    continue
                self._check_board_supply(self._board_dir)
                self._read_pwrkey(self._board_dir)
                if self.power == "booting" and time.time() >= self._ready_at:
                    self.power = "on"

    def _check_board_supply(self, board_dir: Path) -> None:
        # The modem and the chip share the cell: the modem loses power when
        # the supervisor switches the board off, or when the board boots
        # with a power-on reset, which a short power cut may show alone.
        lost = False
        board_power = _read_json(board_dir / "supervisor.json").get("power")
        if board_power == "off" and self._board_power == "on":
            lost = True
        self._board_power = board_power
        boot = _read_json(board_dir / "boot.json")
        if boot.get("boot") is not None and boot.get("boot") != self._boot_seen:
            self._boot_seen = boot["boot"]
            if boot.get("reset_cause") == PWRON_RESET:
                lost = True
        if lost:
            self._switch_off("power loss", notice=False)

    def _read_pwrkey(self, board_dir: Path) -> None:
        # PWRKEY changes are the "pin" events of hardware.log for its GPIO.
        path = board_dir / "hardware.log"
        try:
            with path.open("rb") as stream:
                if stream.seek(0, 2) < self._log_offset:
                    self._log_offset = 0  # the log was replaced
                stream.seek(self._log_offset)
                data = stream.read()
        except OSError:
            return
        self._log_offset += len(data)
        lines = (self._log_rest + data).split(b"\n")
        self._log_rest = lines.pop()
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "pin" and event.get("gpio") == self._pwrkey_gpio:
                self._pwrkey(bool(event.get("value")), event["t_us"] / 1e6)

    def _pwrkey(self, pressed: bool, at: float) -> None:
        # The board drives PWRKEY low ("pressed") while its pin is high.
        if pressed:
            self._pressed_at = at
            return
        if self._pressed_at is None:
            return
        held_s = at - self._pressed_at
        self._pressed_at = None
        if self.power == "off" and held_s >= PWRKEY_ON_S:
            self.power = "booting"
            self._ready_at = at + self.boot_s
            self.power_periods.append(PowerPeriod(on_at=at))
            log.info("modem.power_on", held_s=round(held_s, 3))
        elif self.power == "on" and held_s >= PWRKEY_OFF_S:
            self._switch_off("PWRKEY", notice=True)
        else:
            log.info("modem.pwrkey_ignored", held_s=round(held_s, 3), power=self.power)

    # UART side

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._connection = connection
            try:
                self._handle(connection)
            except OSError as error:
                log.info("modem.uart_closed", error=str(error))
            finally:
                connection.close()
                self._connection = None

    def _send(self, data: bytes) -> None:
        connection = self._connection
        if connection is not None:
            with self._write_lock:
                try:
                    connection.sendall(data)
                except OSError as error:
                    # The board's end is gone (deep sleep or power cut).
                    log.info("modem.uart_write_failed", error=str(error))

    def _reply(self, *lines: str) -> None:
        self._send(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))

    def _handle(self, connection: socket.socket) -> None:
        buffer = b""
        while True:
            chunk = connection.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                buffer = buffer.removeprefix(b"\n")
                text = line.decode(errors="replace").strip()
                if text:
                    buffer = self._command(connection, text, buffer)

    def _read_data(self, connection: socket.socket, buffer: bytes, length: int) -> tuple[bytes, bytes]:
        while len(buffer) < length:
            chunk = connection.recv(4096)
            if not chunk:
                raise OSError("UART closed during AT+SMPUB data")
            buffer += chunk
        return buffer[:length], buffer[length:]

    # Commands

    def _command(self, connection: socket.socket, text: str, buffer: bytes) -> bytes:
        with self._power_lock:
            if self.power != "on":
                self.ignored.append(text)
                return buffer
            self.commands.append(text)
            if self.fault == "silent":
                return buffer
            if self.fault == "error":
                self._reply("ERROR")
                return buffer
            if text in ("AT+CPOWD=1", "AT+CPOWD=0"):
                # 1 is the normal power down with its notice, 0 is at once without it.
                self._switch_off("AT+CPOWD", notice=text.endswith("1"))
                return buffer
        publish = _SMPUB.match(text)
        if publish:
            return self._publish(connection, publish, buffer)
        self._reply(*self._respond(text))
        return buffer

    def _respond(self, text: str) -> list[str]:
        registered = self.fault != "unregistered"
        if text == "AT":
            return ["OK"]
        if text == "AT+CEREG?":
            return [f"+CEREG: 0,{1 if registered else 2}", "OK"]
        if text == "AT+CNACT=0,1":
            return ["OK", "+APP PDP: 0,ACTIVE"] if registered else ["ERROR"]
        if text == "AT+CNACT=0,0":
            return ["OK", "+APP PDP: 0,DEACTIVE"]
        setting = _SMCONF.match(text)
        if setting:
            self._settings[setting.group(1)] = [part.strip('"') for part in setting.group(2).split(",")]
            return ["OK"]
        if text == "AT+SMCONN":
            return ["OK"] if registered and self._connect_mqtt() else ["ERROR"]
        subscription = _SMSUB.match(text)
        if subscription and self._client is not None:
            self._client.subscribe(subscription.group(1), qos=int(subscription.group(2)))
            return ["OK"]
        if text == "AT+SMDISC":
            self._disconnect_mqtt()
            return ["OK"]
        return ["ERROR"]

    def _publish(self, connection: socket.socket, match: re.Match[str], buffer: bytes) -> bytes:
        self._send(b"\r\n> ")
        payload, buffer = self._read_data(connection, buffer, int(match.group(2)))
        client = self._client
        if client is None:
            self._reply("ERROR")
            return buffer
        info = client.publish(match.group(1), payload, qos=int(match.group(3)), retain=match.group(4) == "1")
        info.wait_for_publish(_PUBLISH_TIMEOUT_S)
        self._reply("OK" if info.is_published() else "ERROR")
        return buffer

    # MQTT side

    def _connect_mqtt(self) -> bool:
        self._disconnect_mqtt()
        url = self._settings.get("URL", [])
        if len(url) < 2:
            return False
        client_id = self._settings.get("CLIENTID", [f"modem-{uuid.uuid4().hex[:8]}"])[0]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                             clean_session=self._settings.get("CLEANSS", ["1"])[0] == "1")
        if "USERNAME" in self._settings:
            client.username_pw_set(self._settings["USERNAME"][0], self._settings.get("PASSWORD", [""])[0])
        will_topic = self._settings.get("TOPIC", [""])[0]
        if will_topic:
            self.will = (will_topic, self._settings.get("MESSAGE", [""])[0],
                         int(self._settings.get("QOS", ["0"])[0]), self._settings.get("RETAIN", ["0"])[0] == "1")
            client.will_set(will_topic, self.will[1], qos=self.will[2], retain=self.will[3])
        connected = threading.Event()
        accepted: list[bool] = []

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            accepted.append(not reason_code.is_failure)
            connected.set()

        def on_message(client, userdata, message) -> None:
            self._reply(f'+SMSUB: "{message.topic}","{message.payload.decode(errors="replace")}"')

        client.on_connect = on_connect
        client.on_message = on_message
        try:
            client.connect(url[0], int(url[1]), keepalive=int(self._settings.get("KEEPTIME", ["60"])[0]))
        except OSError as error:
            log.info("modem.mqtt_connect_failed", error=str(error))
            return False
        client.loop_start()
        if not connected.wait(_CONNECT_TIMEOUT_S) or not accepted[0]:
            client.loop_stop()
            return False
        with self._power_lock:
            self._client = client
            if self.power != "on":
                # Switched off while connecting: the new link is lost too.
                self._drop_mqtt()
                return False
        return True

    def _disconnect_mqtt(self) -> None:
        # AT+SMDISC: DISCONNECT, so the broker discards the last will.
        client = self._client
        self._client = None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _drop_mqtt(self) -> None:
        # The link is lost: the socket closes without DISCONNECT.
        client = self._client
        self._client = None
        if client is None:
            return
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

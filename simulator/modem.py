"""Simulated SIMCom SIM7080G LTE-M modem: an AT-command peer that bridges MQTT to a real broker.

The virtual board's UART (``machine.UART`` in ``simulator/hardware/machine.py``) is a TCP
connection to this peer on 127.0.0.1. It answers the subset of the SIM7080G command set
that ``firmware/modem.py`` uses (``AT+CEREG?``, ``AT+CNACT``, ``AT+SMCONF``, ``AT+SMCONN``,
``AT+SMPUB`` with its ``> `` prompt, ``AT+SMSUB``, ``AT+SMDISC``) and runs the MQTT side
with paho against the broker named in ``AT+SMCONF="URL"``, as the modem's own MQTT client
would. Faults are set on ``fault``: ``"unregistered"`` (no network: ``+CEREG: 0,2`` and
``ERROR`` for the data connection), ``"error"`` (``ERROR`` to every command) and
``"silent"`` (no response at all).
"""

from __future__ import annotations

import re
import socket
import threading
import uuid
from typing import Literal, Self

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from simulator.brokers import HOST

log = structlog.get_logger(__name__)

Fault = Literal["unregistered", "error", "silent"] | None
_PUBLISH_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 10.0
_SMCONF = re.compile(r'^AT\+SMCONF="(\w+)",(.*)$')
_SMPUB = re.compile(r'^AT\+SMPUB="([^"]+)",(\d+),([01]),([01])$')
_SMSUB = re.compile(r'^AT\+SMSUB="([^"]+)",([01])$')


class SimulatedModem:
    """One modem, serving one UART connection at a time on 127.0.0.1:port."""

    def __init__(self) -> None:
        self.fault: Fault = None
        self.commands: list[str] = []
        self._settings: dict[str, list[str]] = {}
        self._client: mqtt.Client | None = None
        self._server = socket.create_server((HOST, 0))
        self.port = self._server.getsockname()[1]
        self._connection: socket.socket | None = None
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._serve, name="simulated-modem", daemon=True)
        self._thread.start()
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
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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
                connection.sendall(data)

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
        self.commands.append(text)
        if self.fault == "silent":
            return buffer
        if self.fault == "error":
            self._reply("ERROR")
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
        self._client = client
        return True

    def _disconnect_mqtt(self) -> None:
        client = self._client
        self._client = None
        if client is not None:
            client.disconnect()
            client.loop_stop()

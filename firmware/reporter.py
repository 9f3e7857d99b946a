# Delivery of journaled events: Wi-Fi, MQTT connection, signing at send time
# and QoS 1 publishing, oldest event first. An event leaves the journal only
# after its PUBACK. Failures back off exponentially, with jitter, up to
# retry_max. The failure count is kept in RTC memory, so the backoff goes on
# growing across deep sleeps.
#
# Uplink modes: in "session" the connection stays open while the sticker is
# awake and closes before deep sleep. In "one_shot" it closes, and the uplink
# (Wi-Fi or the modem) is switched off, as soon as the journal is empty. A
# failed connection or publish always switches the modem off.
#
# step() does at most one bounded piece of work, so the crying loop and the
# light sensor keep running between two calls.
import gc

from micropython import const

import log
from downlink import config_topic
from mqtt import MQTTClient, MQTTError
from signing import mqtt_password
from version import FW_VERSION

EVENT_FORMAT_VERSION = const(1)
_WIFI_TIMEOUT_MS = const(20000)
_SOCKET_TIMEOUT_MS = const(5000)
_KEEPALIVE_S = const(60)
_MAX_BACKOFF_DOUBLINGS = const(20)
_LAST_MESSAGE_WAIT_MS = const(50)
# Maximum wait for the LTE-M network registration. It is an estimate for a
# first attach, and later attaches take seconds.
_LTE_REGISTER_MS = const(60000)
# Signed bytes are sent again as they are (same packet id, DUP) only this
# long after signing. Later the event is signed again with a fresh "age".
# The backend's MAX_RESEND_DELAY_MS bounds its opening-time window by it.
MAX_RESEND_DELAY_MS = const(60000)


def events_topic(device_id):
    return "ikki/v1/stickers/%s/events" % device_id


def status_topic(device_id):
    return "ikki/v1/stickers/%s/status" % device_id


class ReportError(Exception):
    pass


class Reporter:
    def __init__(self, board, config, journal, signer):
        self._board = board
        self._config = config
        self._journal = journal
        self._signer = signer
        self._topic = events_topic(config.device_id)
        self._status_topic = status_topic(config.device_id)
        self._config_topic = config_topic(config.device_id)
        # Called with the payload of a configuration received from the backend.
        self.on_config = None
        self._lte = config.uplink == "lte"
        self._one_shot = config.uplink_mode == "one_shot"
        # Exceptions of a failed network step: the modem's too over LTE-M.
        # tuple() of a list, so mypy types it as a tuple of any length.
        self._network_errors = tuple([OSError, MQTTError])  # noqa: C409
        self._client = self._make_client(board, config)
        self._client.set_last_will(self._status_topic, b"offline", retain=True, qos=1)
        self._next_attempt_ms = 0
        self._wifi_started_ms = None
        # (seq, packet id, payload, uptime when signed) of the event whose
        # PUBACK did not come.
        # NOTE: kept in RAM only. After a deep sleep or a reset the event is
        # signed again and sent under a new packet id, and the backend keeps
        # it once by its sequence number.
        self._inflight = None
        self.delivered = 0
        # Uptime when the current connection opened, and its deliveries.
        self._session_started_ms = 0
        self._session_delivered = 0

    def _make_client(self, board, config):
        # The MQTT client of the configured uplink: the modem's own, or ours
        # on a TCP socket over Wi-Fi.
        password = mqtt_password(config.key)
        if self._lte:
            # Imported only for LTE-M, so that Wi-Fi stickers do not load it.
            from modem import SIM7080, ModemClient, ModemError

            self._network_errors = tuple([OSError, MQTTError, ModemError])  # noqa: C409
            # RTC memory keeps the modem's power state across deep sleeps and
            # watchdog resets ("mdm": 1 on, 0 off); without it, AT probes tell.
            known = board.retained.get("mdm")
            modem = SIM7080(
                board.modem_uart(),
                _SOCKET_TIMEOUT_MS,
                board.modem_power_key,
                None if known is None else bool(known),
            )
            modem.on_power = self._modem_power_changed
            return ModemClient(
                modem, config.device_id, config.device_id, password, _KEEPALIVE_S, _LTE_REGISTER_MS
            )
        return MQTTClient(
            config.device_id,
            user=config.device_id,
            password=password,
            keepalive_s=_KEEPALIVE_S,
            timeout_ms=_SOCKET_TIMEOUT_MS,
        )

    def _modem_power_changed(self, powered):
        retained = self._board.retained
        if powered is None:
            retained.pop("mdm", None)
        else:
            retained["mdm"] = 1 if powered else 0
        self._board.save_retained()

    @property
    def connected(self):
        return self._client.connected

    @property
    def pending(self):
        return len(self._journal)

    @property
    def failures(self):
        return self._board.retained.get("fails", 0)

    def set_timeout_ms(self, timeout_ms):
        # Bound every socket wait to timeout_ms; 0 restores the default.
        self._client.timeout_ms = timeout_ms or _SOCKET_TIMEOUT_MS

    def retry_wait_ms(self):
        # Return how long until the next delivery attempt, 0 if it is due now
        # or nothing is pending.
        if not len(self._journal):
            return 0
        return max(0, self._next_attempt_ms - self._board.uptime_ms())

    def backoff_ms(self, failures):
        # Capped exponential backoff with +-25 % jitter, so stickers that lost
        # the broker together do not all come back at the same moment.
        doublings = min(max(failures - 1, 0), _MAX_BACKOFF_DOUBLINGS)
        delay = min(self._config.retry_max_ms, self._config.retry_min_ms << doublings)
        jitter = self._board.random_u32() % 501  # 0..500 per mille
        return max(1, delay * (750 + jitter) // 1000)

    def fields_for(self, record):
        # Return the event fields of a journal record, without the signature.
        # "age" is known only while the RTC has run since the event: the RTC
        # session id changes at every power-on.
        age = 0
        if record.get("rs") == self._board.retained.get("rs"):
            age = max(0, self._board.rtc_ms() - record["rtc"])
        fields = {
            "v": EVENT_FORMAT_VERSION,
            "dev": self._config.device_id,
            "seq": record["seq"],
            "type": record["type"],
            "up": record["up"],
            "age": age,
            "fw": FW_VERSION,
        }
        extra = record.get("f") or {}
        for name in extra:
            if name not in fields:
                fields[name] = extra[name]
        if self._journal.dropped:
            fields["dropped"] = self._journal.dropped
        return fields

    def take_config(self):
        # Hand a received configuration to on_config.
        message = self._client.take_message()
        if message is None:
            return
        topic, payload = message
        if topic == self._config_topic and self.on_config is not None:
            self.on_config(payload)

    def step(self):
        # Do one piece of delivery work. Return True when an event was delivered.
        self.take_config()
        now = self._board.uptime_ms()
        if not len(self._journal):
            if self._one_shot:
                self._end_one_shot()
            else:
                self._keep_alive()
            return False
        if now < self._next_attempt_ms:
            return False
        if self._lte and self._client.timeout_ms < _SOCKET_TIMEOUT_MS:
            # Shortened waits mean that the cry plays. LTE-M registration
            # blocks for seconds, so the report over LTE-M starts after it.
            return False

        stage = "modem" if self._lte else "wifi"
        try:
            if not self._lte and not self._wifi_ready(now):
                return False
            stage = "connect"
            if not self._client.connected:
                self._connect()
            stage = "publish"
            delivered = self._publish_oldest()
        except ReportError as error:
            self._fail(now, stage, error)
            return False
        except self._network_errors as error:
            self._fail(now, stage, error)
            return False
        if self._one_shot and not len(self._journal):
            self._end_one_shot()
        return delivered

    def _wifi_ready(self, now):
        if self._board.wifi_connected():
            return True
        if self._wifi_started_ms is None:
            log.info("wifi.connect", ssid=self._config.wifi_ssid)
            self._board.wifi_start(self._config.wifi_ssid, self._config.wifi_password)
            self._wifi_started_ms = now
            if self._board.wifi_connected():
                return True
        if now - self._wifi_started_ms > _WIFI_TIMEOUT_MS:
            self._wifi_started_ms = None
            self._board.wifi_stop()
            raise ReportError(
                "Wi-Fi %r not connected after %d ms" % (self._config.wifi_ssid, _WIFI_TIMEOUT_MS)
            )
        return False

    def _connect(self):
        config = self._config
        client = self._client
        if self._lte:
            client.open(config.mqtt_host, config.mqtt_port)
        else:
            sock = self._board.tcp_connect(config.mqtt_host, config.mqtt_port, client.timeout_ms)
            client.connect(sock)
        self._session_started_ms = self._board.uptime_ms()
        self._session_delivered = 0
        self._client.publish(self._status_topic, b"online", qos=0, retain=True)
        try:
            self._client.subscribe(self._config_topic)
        except self._network_errors as error:
            if not self._client.connected:
                raise
            # A broker that refuses the subscription still takes the events.
            log.warning("mqtt.subscribe_refused", topic=self._config_topic, error=repr(error))
        rssi = self._board.signal_dbm()
        if rssi and rssi != self._board.retained.get("rssi"):
            self._board.retained["rssi"] = rssi
            self._board.save_retained()
        log.info("mqtt.connected", host=config.mqtt_host, port=config.mqtt_port)

    def _publish_oldest(self):
        record = self._journal.oldest()
        if record is None:
            return False
        inflight = self._inflight
        now = self._board.uptime_ms()
        if (
            inflight is not None
            and inflight[0] == record["seq"]
            and now - inflight[3] <= MAX_RESEND_DELAY_MS
        ):
            # No PUBACK came for this event on an earlier connection: send the
            # same bytes again, with the same packet id and the DUP flag. Its
            # "age" is then as old as the first attempt.
            resend_id = inflight[1]
            payload = inflight[2]
            fields = None
        else:
            resend_id = 0
            try:
                fields = self.fields_for(record)
                payload = self._signer.payload(fields)
            except (KeyError, TypeError, ValueError) as error:
                # A record that cannot be encoded never will be: drop it, count it.
                log.error("journal.invalid_record", seq=record.get("seq"), error=repr(error))
                self._journal.discard(record["seq"])
                return False
        try:
            self._client.publish(self._topic, payload, qos=1, resend_id=resend_id)
        except self._network_errors:
            signed_ms = inflight[3] if resend_id and inflight is not None else now
            self._inflight = (record["seq"], self._client.last_packet_id, payload, signed_ms)
            raise
        self._inflight = None

        self._journal.remove(record["seq"])
        self.delivered += 1
        self._session_delivered += 1
        if self.failures:
            self._board.retained["fails"] = 0
            self._board.save_retained()
        log.info(
            "event.delivered",
            seq=record["seq"],
            type=record["type"],
            resent=bool(resend_id),
            left=len(self._journal),
        )
        gc.collect()
        return True

    def _fail(self, now, stage, error):
        # The client's close() switches the modem off; Wi-Fi stays associated
        # for the retry, except in one-shot mode.
        self._client.close()
        if self._one_shot and not self._lte:
            self._uplink_off()
        failures = self.failures + 1
        self._board.retained["fails"] = failures
        self._board.save_retained()
        delay = self.backoff_ms(failures)
        self._next_attempt_ms = now + delay
        log.warning(
            "report.retry",
            stage=stage,
            error=repr(error),
            failures=failures,
            delay_ms=delay,
            pending=len(self._journal),
        )

    def _keep_alive(self):
        if not self._client.connected:
            return
        try:
            self._client.ping_if_due()
        except (OSError, MQTTError) as error:
            log.warning("mqtt.ping_failed", error=repr(error))
            self._client.close()

    def _end_one_shot(self):
        # One-shot mode with an empty journal: close the connection and switch
        # the uplink off. An event that a configuration received meanwhile
        # adds goes out on this connection first.
        if not self._client.connected:
            return
        if not self._read_last_messages() or len(self._journal):
            return
        self._disconnect()
        self._uplink_off()

    def _read_last_messages(self):
        # Hand a configuration that arrived to on_config. Return False when
        # the connection failed meanwhile.
        try:
            # The retained configuration follows the SUBACK at once; it is
            # usually read already, while waiting for a PUBACK.
            self._client.check_messages(_LAST_MESSAGE_WAIT_MS)
        except self._network_errors as error:
            log.warning("mqtt.read_failed", error=repr(error))
            self._client.close()
            return False
        self.take_config()
        return True

    def _disconnect(self):
        # Mark the sticker asleep and disconnect cleanly, so that the broker
        # drops the last will.
        try:
            self._client.publish(self._status_topic, b"asleep", qos=0, retain=True)
            self._client.disconnect()
        except self._network_errors as error:
            log.warning("mqtt.disconnect_failed", error=repr(error))
            self._client.close()
        log.info(
            "report.session_closed",
            mode="one_shot" if self._one_shot else "session",
            delivered=self._session_delivered,
            open_ms=self._board.uptime_ms() - self._session_started_ms,
        )

    def _uplink_off(self):
        if self._lte:
            self._client.power_off()
        else:
            self._board.wifi_stop()
            self._wifi_started_ms = None

    def shutdown(self):
        # Before deep sleep: mark the sticker asleep, disconnect cleanly and
        # switch the uplink off.
        if self._client.connected and self._read_last_messages():
            self._disconnect()
        self._uplink_off()

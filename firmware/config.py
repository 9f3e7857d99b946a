# Device configuration, read from config.json on the device's flash.
#
# A device without config.json is unprovisioned: the factory station writes
# the file over the REPL.
import binascii
import errno
import json

CONFIG_FILE = "config.json"

# Optional keys and their defaults. Times in seconds may be fractional.
DEFAULTS = {
    "mqtt_port": 1883,
    "wifi_ssid": "",
    "wifi_password": "",
    "arm_delay_s": 30,
    "cry_max_s": 30,
    "cry_stop_dark_s": 3,
    "light_threshold": 12000,
    "light_hysteresis": 3000,
    "debounce_ms": 200,
    "volume": 80,
    "heartbeat_s": 86400,
    "retry_min_s": 1,
    "retry_max_s": 900,
    "report_window_s": 20,
    "board": "esp32s3_ref",
    # After a cry: "rearm" (wait for the dark and arm again) or "finish"
    # (sleep until the battery runs out, waking only for heartbeats).
    "after_cry": "rearm",
    # Battery voltage under which a low_battery event is recorded, once.
    "low_battery_mv": 3450,
    # "wifi", or "lte" for the SIM7080G LTE-M modem on the pin map's UART.
    "uplink": "wifi",
    # "session": stay connected while awake. "one_shot": connect, deliver the
    # whole journal, disconnect and switch the uplink off at once.
    "uplink_mode": "session",
}

AFTER_CRY_CHOICES = ("rearm", "finish")
UPLINK_CHOICES = ("wifi", "lte")
UPLINK_MODE_CHOICES = ("session", "one_shot")

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
_HEX_CHARS = "0123456789abcdefABCDEF"


class ConfigError(Exception):
    pass


def _is_number(value):
    return type(value) is not bool and isinstance(value, (int, float))


def _seconds_to_ms(data, name, low, high):
    value = data[name]
    if not _is_number(value) or value < low or value > high:
        raise ConfigError(
            "%s must be a number of seconds from %s to %s, got %r" % (name, low, high, value)
        )
    return int(value * 1000)


def _integer(data, name, low, high):
    value = data[name]
    if type(value) is not int or value < low or value > high:
        raise ConfigError("%s must be an integer from %d to %d, got %r" % (name, low, high, value))
    return value


def _text(data, name, max_length):
    value = data[name]
    if not isinstance(value, str) or len(value) > max_length:
        raise ConfigError("%s must be a string of at most %d characters" % (name, max_length))
    return value


class Config:
    # Validated configuration; times are held in milliseconds.

    def __init__(self, data):
        for name in ("device_id", "key", "mqtt_host"):
            if name not in data:
                raise ConfigError("missing key %s" % name)
        merged = dict(DEFAULTS)
        merged.update(data)

        # The device id is also an MQTT topic level and user name: 3 to 64
        # letters, digits, "_" or "-", starting with a letter or digit.
        device_id = merged["device_id"]
        if not isinstance(device_id, str) or not 3 <= len(device_id) <= 64:
            raise ConfigError("device_id must be a string of 3 to 64 characters")
        for index, char in enumerate(device_id):
            if char not in _ID_CHARS or (index == 0 and char in "-_"):
                raise ConfigError(
                    "device_id must start with a letter or digit and contain only letters, "
                    "digits, '_' and '-', got %r" % device_id
                )
        self.device_id = device_id

        key_hex = merged["key"]
        if not isinstance(key_hex, str) or len(key_hex) != 64:
            raise ConfigError("key must be 64 hexadecimal characters (32 bytes)")
        for char in key_hex:
            if char not in _HEX_CHARS:
                raise ConfigError("key must be 64 hexadecimal characters (32 bytes)")
        self.key = binascii.unhexlify(key_hex)

        self.mqtt_host = _text(merged, "mqtt_host", 253)
        if not self.mqtt_host:
            raise ConfigError("mqtt_host must not be empty")
        self.mqtt_port = _integer(merged, "mqtt_port", 1, 65535)
        self.wifi_ssid = _text(merged, "wifi_ssid", 32)
        self.wifi_password = _text(merged, "wifi_password", 64)

        self.arm_delay_ms = _seconds_to_ms(merged, "arm_delay_s", 0, 86400)
        self.cry_max_ms = _seconds_to_ms(merged, "cry_max_s", 0.1, 600)
        self.cry_stop_dark_ms = _seconds_to_ms(merged, "cry_stop_dark_s", 0, 600)
        self.heartbeat_ms = _seconds_to_ms(merged, "heartbeat_s", 0, 30 * 86400)
        self.retry_min_ms = _seconds_to_ms(merged, "retry_min_s", 0.05, 3600)
        self.retry_max_ms = _seconds_to_ms(merged, "retry_max_s", 0.05, 86400)
        if self.retry_max_ms < self.retry_min_ms:
            raise ConfigError("retry_max_s must not be smaller than retry_min_s")
        self.report_window_ms = _seconds_to_ms(merged, "report_window_s", 0, 600)

        # Light levels are ADC readings scaled to 0..65535 (read_u16).
        self.light_threshold = _integer(merged, "light_threshold", 1, 65535)
        self.light_hysteresis = _integer(merged, "light_hysteresis", 0, self.light_threshold)
        self.debounce_ms = _integer(merged, "debounce_ms", 0, 10000)
        # Volume in percent; the cry player rounds it up to a 6 dB step.
        self.volume = _integer(merged, "volume", 0, 100)
        self.board = _text(merged, "board", 32)
        self.after_cry = merged["after_cry"]
        if self.after_cry not in AFTER_CRY_CHOICES:
            raise ConfigError("after_cry must be 'rearm' or 'finish', got %r" % self.after_cry)
        self.low_battery_mv = _integer(merged, "low_battery_mv", 0, 5000)
        self.uplink = merged["uplink"]
        if self.uplink not in UPLINK_CHOICES:
            raise ConfigError(
                "uplink must be one of %s, got %r" % (", ".join(UPLINK_CHOICES), self.uplink)
            )
        self.uplink_mode = merged["uplink_mode"]
        if self.uplink_mode not in UPLINK_MODE_CHOICES:
            raise ConfigError(
                "uplink_mode must be one of %s, got %r"
                % (", ".join(UPLINK_MODE_CHOICES), self.uplink_mode)
            )
        # Version of the last configuration received from the backend, 0 for none.
        self.config_version = merged.get("cfg_v", 0)


def load(path=CONFIG_FILE):
    # Return the Config, or None when the file does not exist (unprovisioned).
    # Raise ConfigError when the file exists but is invalid.
    try:
        with open(path) as stream:
            text = stream.read()
    except OSError as error:
        if error.errno == errno.ENOENT:
            return None
        raise ConfigError("cannot read %s: %s" % (path, error))
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError("%s is not valid JSON" % path)
    if not isinstance(data, dict):
        raise ConfigError("%s must contain a JSON object" % path)
    return Config(data)

"""The stickers' configuration downlink: a retained, signed, versioned message per device.

The backend publishes on ``ikki/v1/stickers/<device id>/config`` as its own MQTT user, with
QoS 1 and the retain flag, so a sticker receives the latest configuration each time it
connects and subscribes. The payload is a flat JSON object: ``cfg_v`` (the version, an
integer from 1, higher for each new configuration), any of the keys of ``FIELD_RULES`` and
``sig``, the HMAC-SHA256 under the device key of the canonical text of the other fields (the
same rule as for events, see ``protocol.canonical_bytes``). The firmware (``downlink.py``)
applies a newer version for its next wake-up and reports ``config_applied``, or keeps its
configuration and reports ``config_rejected`` with the reason.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session

from backend.core.settings import Settings, get_settings
from backend.devices.models import Device
from backend.devices.protocol import config_topic, sign_event
from backend.devices.service import device_key

log = structlog.get_logger(__name__)

# Keys a configuration may set, each with its range (integers) or choices (strings). The
# ranges are the firmware's own (firmware/config.py), in whole units: the signed text
# carries integers and strings only.
FIELD_RULES: dict[str, tuple[int, int] | tuple[str, ...]] = {
    "arm_delay_s": (0, 86400),
    "cry_max_s": (1, 600),
    "cry_stop_dark_s": (0, 600),
    "volume": (0, 100),
    "heartbeat_s": (0, 30 * 86400),
    "low_battery_mv": (0, 5000),
    "after_cry": ("rearm", "finish"),
    "uplink": ("wifi", "lte"),
    "uplink_mode": ("session", "one_shot"),
}
PUBLISH_TIMEOUT_S = 10.0


class InvalidStickerConfig(ValueError):
    pass


def check_values(values: dict[str, Any]) -> None:
    """Raise InvalidStickerConfig for an unknown key or a value outside its range or choices."""
    if not values:
        raise InvalidStickerConfig("a configuration must set at least one key")
    for name, value in values.items():
        rule = FIELD_RULES.get(name)
        if rule is None:
            raise InvalidStickerConfig(f"unknown key {name!r}; allowed: {', '.join(FIELD_RULES)}")
        if isinstance(rule[0], int):
            low, high = rule
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidStickerConfig(f"{name} must be an integer from {low} to {high}, got {value!r}")
        elif value not in rule:
            raise InvalidStickerConfig(f"{name} must be one of {', '.join(map(str, rule))}, got {value!r}")


def config_payload(key: bytes, version: int, values: dict[str, Any]) -> bytes:
    """Return the signed payload of configuration ``version`` with ``values``."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidStickerConfig(f"the version must be an integer from 1, got {version!r}")
    check_values(values)
    signed = sign_event(key, {**values, "cfg_v": version})
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode("ascii")


def publish_payload(device_id: str, payload: bytes, settings: Settings | None = None,
                    *, host: str | None = None, port: int | None = None,
                    username: str | None = None, password: str | None = None) -> None:
    """Publish a configuration payload retained at QoS 1 and wait for the broker's PUBACK.

    Connects as the backend user of ``settings`` unless host, port, username or password
    are given. Raises TimeoutError when the broker does not acknowledge in time.
    """
    settings = settings or get_settings()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ikki-config-{uuid.uuid4().hex[:12]}",
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(username or settings.mqtt_username,
                           password if password is not None else settings.mqtt_password)
    client.connect(host or settings.mqtt_host, port or settings.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        info = client.publish(config_topic(device_id), payload, qos=1, retain=True)
        info.wait_for_publish(PUBLISH_TIMEOUT_S)
        if not info.is_published():
            raise TimeoutError(f"the broker did not acknowledge the configuration of {device_id} "
                               f"within {PUBLISH_TIMEOUT_S} s")
    finally:
        client.disconnect()
        client.loop_stop()
    log.info("sticker.config_published", device_id=device_id, bytes=len(payload))


def publish_config(session: Session, device_id: str, version: int, values: dict[str, Any],
                   settings: Settings | None = None) -> bytes:
    """Sign configuration ``version`` for a registered device, publish it retained, return the payload."""
    settings = settings or get_settings()
    device = session.get(Device, device_id)
    if device is None:
        raise InvalidStickerConfig(f"no registered device {device_id!r}")
    payload = config_payload(device_key(device, settings), version, values)
    publish_payload(device_id, payload, settings)
    log.info("sticker.config_version", device_id=device_id, version=version, keys=sorted(values))
    return payload

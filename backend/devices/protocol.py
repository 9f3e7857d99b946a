"""The sticker protocol v1: topics, event signatures and MQTT credentials.

An event is a flat JSON object. Its ``sig`` field is the lowercase hex HMAC-SHA256, under
the device's 32-byte key, of every other field serialized as
``json.dumps(fields, sort_keys=True, separators=(",", ":"))`` in ASCII. The firmware signs
the same bytes, so both sides must agree on this serialization byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

PROTOCOL_VERSION = 1
# A device sends the same signed bytes again (QoS 1 with DUP) only within this time after
# signing them; later it signs the event again, with a fresh "age". So a received "age" is
# at most this much older than the moment of receipt minus the transit time.
MAX_RESEND_DELAY_MS = 60_000
# The device measures "age" with its RTC, whose slow clock (the ESP32-S3's internal
# 136 kHz RC oscillator, without a 32 kHz crystal) may run this many per mille fast or slow.
RTC_DRIFT_PER_MILLE = 50
KEY_BYTES = 32
TOPIC_PREFIX = "ikki/v1/stickers/"
EVENTS_TOPIC_FILTER = TOPIC_PREFIX + "+/events"

# A device id is also a topic level and an MQTT username, so it has no "/", "+", "#" or spaces.
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
_EVENTS_TOPIC_PATTERN = re.compile(r"^ikki/v1/stickers/([^/]+)/events$")


def device_topic_prefix(device_id: str) -> str:
    return f"{TOPIC_PREFIX}{device_id}/"


def events_topic(device_id: str) -> str:
    return f"{TOPIC_PREFIX}{device_id}/events"


def config_topic(device_id: str) -> str:
    return f"{TOPIC_PREFIX}{device_id}/config"


def device_id_from_events_topic(topic: str) -> str | None:
    """Return the device id of an events topic, or None if the topic is not one."""
    match = _EVENTS_TOPIC_PATTERN.match(topic)
    return match.group(1) if match else None


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """Serialize the fields that a signature covers (everything except ``sig``)."""
    unsigned = {name: value for name, value in fields.items() if name != "sig"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("ascii")


def event_signature(key: bytes, fields: dict[str, Any]) -> str:
    return hmac.new(key, canonical_bytes(fields), hashlib.sha256).hexdigest()


def sign_event(key: bytes, fields: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the event fields with ``sig`` set, as a device would publish them."""
    signed = {name: value for name, value in fields.items() if name != "sig"}
    signed["sig"] = event_signature(key, signed)
    return signed


def signature_is_valid(key: bytes, fields: dict[str, Any]) -> bool:
    sent = fields.get("sig")
    if not isinstance(sent, str):
        return False
    return hmac.compare_digest(event_signature(key, fields), sent)


def mqtt_password(key: bytes) -> str:
    """Derive the device's MQTT password: the first 32 hex digits of HMAC-SHA256(key, "mqtt-password")."""
    return hmac.new(key, b"mqtt-password", hashlib.sha256).hexdigest()[:32]

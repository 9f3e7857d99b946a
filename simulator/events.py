"""Sticker events on the CPython side: canonical form, signature check, MQTT credentials.

The rules are those of docs/protocol.md (event format v1).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

EVENTS_TOPIC = "ikki/v1/stickers/{device_id}/events"
STATUS_TOPIC = "ikki/v1/stickers/{device_id}/status"
REQUIRED_FIELDS = {
    "v": int,
    "dev": str,
    "seq": int,
    "type": str,
    "up": int,
    "age": int,
    "fw": str,
    "sig": str,
}


class InvalidEvent(ValueError):
    pass


def canonical(fields: dict[str, Any]) -> bytes:
    """Return the signed text: the fields without "sig", keys sorted, no spaces."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def sign(key: bytes, fields: dict[str, Any]) -> str:
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


def mqtt_password(key: bytes) -> str:
    """Return a sticker's MQTT password: HMAC-SHA256(key, b"mqtt-password"), first 32 hex characters."""
    return hmac.new(key, b"mqtt-password", hashlib.sha256).hexdigest()[:32]


def verify(payload: bytes, key: bytes) -> dict[str, Any]:
    """Parse and check a v1 event payload; return its fields without "sig".

    Raises InvalidEvent when the payload is malformed or the signature does not match.
    """
    try:
        text = payload.decode("ascii")
        fields = json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidEvent(f"payload is not ASCII JSON: {error}") from error
    if not isinstance(fields, dict):
        raise InvalidEvent("payload is not a JSON object")
    for name, expected_type in REQUIRED_FIELDS.items():
        value = fields.get(name)
        if type(value) is not expected_type:
            raise InvalidEvent(f"field {name!r} missing or not {expected_type.__name__}: {value!r}")
    for name, value in fields.items():
        if type(value) not in (int, str):
            raise InvalidEvent(f"field {name!r} is not a flat int or str: {value!r}")
    if fields["v"] != 1:
        raise InvalidEvent(f"unsupported event format version {fields['v']}")
    signature = fields.pop("sig")
    if not hmac.compare_digest(signature, sign(key, fields)):
        raise InvalidEvent(f"invalid signature on event seq {fields['seq']} of {fields['dev']}")
    return fields

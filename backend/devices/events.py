"""Parsing and checking of sticker event payloads, before any database access.

Each check raises MessageRejected with the reason that ingestion stores and counts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from backend.devices.protocol import (
    DEVICE_ID_PATTERN,
    MAX_RESEND_DELAY_MS,
    PROTOCOL_VERSION,
    RTC_DRIFT_PER_MILLE,
)


class Reason(StrEnum):
    """Reason for rejecting a message, as stored in RejectedMessage and counted."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_TOPIC = "invalid_topic"
    INVALID_JSON = "invalid_json"
    INVALID_FIELDS = "invalid_fields"
    UNSUPPORTED_VERSION = "unsupported_version"
    TOPIC_MISMATCH = "topic_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED_SEQUENCE = "replayed_sequence"
    # The message passed every check but storing it failed on every attempt.
    PROCESSING_FAILED = "processing_failed"


class MessageRejected(Exception):
    def __init__(self, reason: Reason, detail: str, device_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.device_id = device_id


MAX_INT64 = 2**63 - 1
# Ten years, an estimate far above what a journal can hold on one battery. The bound also
# keeps received_at - age a valid datetime.
MAX_QUEUED_MS = 10 * 366 * 24 * 3600 * 1000
MAX_EXTRA_STRING_LENGTH = 64
MAX_FIELDS = 32

FIELD_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
STATE_PATTERN = re.compile(r"^[a-z][a-z_]{0,19}$")
FIRMWARE_VERSION_PATTERN = re.compile(r"^[\x21-\x7e]{1,40}$")
SIGNATURE_PATTERN = re.compile(r"^[0-9a-f]{64}$")

# Fields fixed when the event happened, which a copy sent again keeps.
IDENTITY_FIELDS = ("type", "up")

# Fields every event has, with their type. Other fields are optional flat ints or strings.
REQUIRED_FIELDS: dict[str, type] = {
    "v": int,
    "dev": str,
    "seq": int,
    "type": str,
    "up": int,
    "age": int,
    "fw": str,
    "sig": str,
}


def parse_payload(payload: bytes) -> dict[str, Any]:
    """Decode the payload as one JSON object, or raise MessageRejected (invalid_json)."""
    try:
        fields = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MessageRejected(Reason.INVALID_JSON, f"not UTF-8: {error.reason} at byte {error.start}")
    except json.JSONDecodeError as error:
        raise MessageRejected(Reason.INVALID_JSON, f"{error.msg} (line {error.lineno}, column {error.colno})")
    except RecursionError:
        raise MessageRejected(Reason.INVALID_JSON, "nested too deeply")
    if not isinstance(fields, dict):
        raise MessageRejected(Reason.INVALID_JSON, f"a JSON {type(fields).__name__} instead of an object")
    return fields


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python, but true/false is no number in this protocol.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_ascii_text(value: Any, max_length: int) -> bool:
    return isinstance(value, str) and value.isascii() and len(value) <= max_length


def check_fields(fields: dict[str, Any]) -> None:
    """Check names, types and ranges of every field; raises MessageRejected.

    Strings must be ASCII: the firmware builds the signed text itself and rejects other
    characters, because MicroPython's json.dumps would write them unescaped.
    """
    device_id = fields.get("dev") if isinstance(fields.get("dev"), str) else None

    def reject(detail: str) -> MessageRejected:
        return MessageRejected(Reason.INVALID_FIELDS, detail, device_id)

    if len(fields) > MAX_FIELDS:
        raise reject(f"{len(fields)} fields, at most {MAX_FIELDS}")
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    if missing:
        raise reject("missing " + ", ".join(missing))
    for name, expected in REQUIRED_FIELDS.items():
        value = fields[name]
        valid = _is_int(value) if expected is int else isinstance(value, str)
        if not valid:
            raise reject(f"{name} must be {'an integer' if expected is int else 'a string'}")

    if fields["v"] != PROTOCOL_VERSION:
        raise MessageRejected(Reason.UNSUPPORTED_VERSION, f"protocol version {fields['v']}", device_id)
    if not DEVICE_ID_PATTERN.match(fields["dev"]):
        raise reject("dev is not a valid device id")
    if not EVENT_TYPE_PATTERN.match(fields["type"]):
        raise reject("type must be 1 to 32 lowercase letters, digits or '_'")
    if not FIRMWARE_VERSION_PATTERN.match(fields["fw"]):
        raise reject("fw must be 1 to 40 printable ASCII characters")
    if not SIGNATURE_PATTERN.match(fields["sig"]):
        raise reject("sig must be 64 lowercase hexadecimal digits")
    if not 0 <= fields["seq"] <= MAX_INT64:
        raise reject("seq is out of range")
    if not 0 <= fields["up"] <= MAX_INT64:
        raise reject("up is out of range")
    if not 0 <= fields["age"] <= MAX_QUEUED_MS:
        raise reject(f"age must be between 0 and {MAX_QUEUED_MS} ms")

    for name, value in fields.items():
        if name in REQUIRED_FIELDS:
            continue
        if not FIELD_NAME_PATTERN.match(name):
            raise reject(f"field name {name[:40]!r} must be lowercase letters, digits or '_'")
        if _is_int(value):
            if not -MAX_INT64 - 1 <= value <= MAX_INT64:
                raise reject(f"{name} is out of range")
        elif not _is_ascii_text(value, MAX_EXTRA_STRING_LENGTH):
            raise reject(f"{name} must be an integer or ASCII text of at most "
                         f"{MAX_EXTRA_STRING_LENGTH} characters")
    # The firmware reports an empty state when it does not know its state yet.
    state = fields.get("state")
    if state is not None and not (isinstance(state, str) and (state == "" or STATE_PATTERN.match(state))):
        raise reject("state must be empty or 1 to 20 lowercase letters or '_'")


def same_event(stored: dict[str, Any], received: dict[str, Any]) -> bool:
    """Tell whether two signed payloads with the same sequence number carry the same event.

    A device sends an event again from its journal, signed again with the fields of that
    sending: ``age``, ``dropped``, and ``fw`` after a firmware update. So two copies are the
    same event when the fields fixed when the event happened, ``type`` and ``up``, are equal.
    """
    return all(stored.get(name) == received.get(name) for name in IDENTITY_FIELDS)


@dataclass(frozen=True)
class OccurrenceWindow:
    """When an event happened on the device, by the backend's clock: between earliest and latest.

    The device clock is not trusted, so the time comes from the backend's received_at minus
    the queued time ("age") that the device measured with its RTC.
    """

    earliest: datetime
    latest: datetime

    @property
    def middle(self) -> datetime:
        return self.earliest + (self.latest - self.earliest) / 2

    @property
    def uncertainty(self) -> timedelta:
        """Half the width of the window: the "±" of middle."""
        return (self.latest - self.earliest) / 2


def occurrence_window(received_at: datetime, queued_ms: int, *,
                      resend_delay_ms: int = MAX_RESEND_DELAY_MS,
                      drift_per_mille: int = RTC_DRIFT_PER_MILLE) -> OccurrenceWindow:
    """Return the window in which an event happened, from when it was received and its age.

    The age was measured when the device signed the payload. A copy sent again with the same
    bytes (QoS 1, DUP) left the device up to resend_delay_ms after that, so the event may be
    that much older than received_at - age. The RTC drift widens the window both ways in
    proportion to the age.
    """
    if queued_ms < 0:
        raise ValueError(f"queued_ms must not be negative, got {queued_ms}")
    drift_ms = queued_ms * drift_per_mille // 1000
    latest = received_at - timedelta(milliseconds=max(0, queued_ms - drift_ms))
    earliest = received_at - timedelta(milliseconds=queued_ms + drift_ms + resend_delay_ms)
    return OccurrenceWindow(earliest=earliest, latest=latest)

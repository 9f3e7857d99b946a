from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.time import UTCDateTime, utcnow


class Device(SQLModel, table=True):
    """A sticker: its identity, its owner, the reminder letter it sits on and what it last reported."""

    __tablename__ = "devices"

    # Also the MQTT username and a level of every topic of the device.
    device_id: str = Field(primary_key=True, max_length=64)
    # Printed on the label, also as a QR code. The freelancer types it to claim the sticker.
    claim_code: str = Field(sa_column=sa.Column(sa.String(19), unique=True, nullable=False))
    # Fernet token of the 32-byte device key, decrypted by service.device_key.
    key_encrypted: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    owner_id: int | None = Field(default=None, index=True)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A letter carries at most one sticker (NULLs do not collide in a unique column).
    letter_id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, unique=True, nullable=True))
    hardware_revision: str | None = Field(default=None, max_length=40)
    firmware_version: str | None = Field(default=None, max_length=40)
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Highest sequence number stored. Only a newer event may change state and firmware_version.
    last_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    state: str | None = Field(default=None, max_length=20)
    is_virtual: bool = Field(default=False)


class DeviceEvent(SQLModel, table=True):
    """A signed event exactly as a sticker published it, stored once per (device, sequence number)."""

    __tablename__ = "device_events"
    __table_args__ = (sa.UniqueConstraint("device_id", "seq", name="uq_device_events_device_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="devices.device_id", max_length=64)
    seq: int = Field(sa_type=sa.BigInteger)
    # The protocol field "type": opened, heartbeat, boot, armed, ...
    event_type: str = Field(sa_column=sa.Column("type", sa.String(32), nullable=False))
    # Device uptime when the event happened, in ms (protocol field "up").
    device_uptime_ms: int = Field(sa_type=sa.BigInteger)
    # Time the event waited on the device before it was signed for sending, in ms ("age").
    queued_ms: int = Field(sa_type=sa.BigInteger)
    # Set by the backend when it stored the event.
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # The whole signed object, signature included.
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class RejectedMessage(SQLModel, table=True):
    """An MQTT message that ingestion rejected, with the reason and the first bytes of the payload."""

    __tablename__ = "rejected_messages"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    topic: str = Field(max_length=200)
    reason: str = Field(max_length=40, index=True)
    # Taken from the topic or the payload, so it may name a device that does not exist.
    device_id: str | None = Field(default=None, max_length=64, index=True)
    detail: str = Field(default="", max_length=500)
    # First bytes of the payload, at most ingestion.PAYLOAD_EXCERPT_BYTES.
    payload_excerpt: bytes = Field(default=b"", sa_type=sa.LargeBinary)

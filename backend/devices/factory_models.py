from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.time import UTCDateTime, utcnow


class FactoryRecord(SQLModel, table=True):
    """One pass of a board through a factory station: who, where, what was written and every test result.

    A rejected board has records but no Device row: it was never registered.
    """

    __tablename__ = "factory_records"

    id: int | None = Field(default=None, primary_key=True)
    # Not a foreign key: rejected boards are recorded without a device.
    device_id: str = Field(max_length=64, index=True)
    # passed or rejected
    status: str = Field(max_length=20, index=True)
    reason: str = Field(default="", max_length=500)
    # new, kept (a re-run read the identity back from the board) or rotated
    identity: str = Field(default="new", max_length=20)
    station: str = Field(max_length=64)
    operator: str = Field(max_length=64)
    hardware_revision: str = Field(max_length=40)
    firmware_version: str = Field(max_length=40)
    image_sha256: str = Field(default="", max_length=64)
    batch: str = Field(default="", max_length=64, index=True)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Each test: {"name", "passed", "value", "unit", "detail"}.
    tests: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)

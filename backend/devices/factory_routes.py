"""Factory API for the station: records with test results, and key rotation. Bearer factory token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from backend.core.settings import get_settings
from backend.devices import factory, service
from backend.devices.factory_models import FactoryRecord
from backend.devices.routes import require_factory_token
from backend.web.deps import db_session

router = APIRouter(prefix="/api/factory", dependencies=[Depends(require_factory_token)])


class TestResult(BaseModel):
    name: str = Field(max_length=40)
    passed: bool
    value: float | None = None
    unit: str = Field(default="", max_length=20)
    detail: str = Field(default="", max_length=300)


class RecordIn(BaseModel):
    device_id: str = Field(max_length=64)
    key: str = Field(max_length=64, description="the device key as 64 hexadecimal digits")
    claim_code: str = Field(max_length=40)
    status: str = Field(max_length=20, description="passed or rejected")
    reason: str = Field(default="", max_length=500)
    identity: str = Field(default="new", max_length=20, description="new, kept or rotated")
    station: str = Field(max_length=64)
    operator: str = Field(max_length=64)
    hardware_revision: str = Field(max_length=40)
    firmware_version: str = Field(max_length=40)
    image_sha256: str = Field(default="", max_length=64)
    batch: str = Field(default="", max_length=64)
    is_virtual: bool = False
    tests: list[TestResult] = Field(default_factory=list, max_length=50)


class RecordOut(BaseModel):
    id: int
    device_id: str
    status: str
    reason: str
    identity: str
    station: str
    operator: str
    hardware_revision: str
    firmware_version: str
    image_sha256: str
    batch: str
    recorded_at: datetime
    tests: list[dict[str, Any]]
    registered: bool
    device_created: bool = False
    claim_code: str | None = None


class KeyIn(BaseModel):
    current_key: str = Field(max_length=64)
    new_key: str = Field(max_length=64)


class KeyOut(BaseModel):
    device_id: str
    rotated: bool


def _record_out(record: FactoryRecord, registered: bool, created: bool = False,
                claim_code: str | None = None) -> RecordOut:
    return RecordOut(**record.model_dump(), registered=registered, device_created=created,
                     claim_code=claim_code)


@router.post("/records", status_code=201)
def post_record(body: RecordIn, response: Response, session: Session = Depends(db_session, scope="function")) -> RecordOut:
    """Store a board's record; a passing board is registered with its key in the same transaction."""
    record, device, created = factory.record_provisioning(
        session,
        device_id=body.device_id, key=service.parse_key_hex(body.key), claim_code=body.claim_code,
        status=body.status, reason=body.reason, identity=body.identity, station=body.station,
        operator=body.operator, hardware_revision=body.hardware_revision,
        firmware_version=body.firmware_version, image_sha256=body.image_sha256, batch=body.batch,
        tests=[test.model_dump() for test in body.tests], is_virtual=body.is_virtual,
        settings=get_settings(),
    )
    return _record_out(record, device is not None, created,
                       device.claim_code if device is not None else None)


@router.get("/records")
def list_records(device_id: str | None = None, batch: str | None = None,
                 session: Session = Depends(db_session, scope="function")) -> list[RecordOut]:
    records = factory.records_for(session, device_id, batch)
    return [_record_out(record, record.status == "passed") for record in records]


@router.post("/devices/{device_id}/key")
def rotate_key(device_id: str, body: KeyIn, session: Session = Depends(db_session, scope="function")) -> KeyOut:
    """Replace the device's key. Sending the current key proves that the station has the board."""
    factory.rotate_key(session, device_id, service.parse_key_hex(body.current_key),
                       service.parse_key_hex(body.new_key), get_settings())
    return KeyOut(device_id=device_id, rotated=True)

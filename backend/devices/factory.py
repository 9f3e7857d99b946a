"""The factory's records: each board a station provisioned or rejected, with its test results.

A board is registered (a Device row) only in the same transaction as a passing
record, so a board that failed a step is never half-registered.
"""

from __future__ import annotations

import hmac
from typing import Any

import structlog
from sqlmodel import Session, col, select

from backend.core.errors import InvalidInput, NotFound
from backend.core.settings import Settings, get_settings
from backend.devices import service
from backend.devices.factory_models import FactoryRecord
from backend.devices.models import Device

log = structlog.get_logger(__name__)

STATUSES = ("passed", "rejected")
IDENTITY_ACTIONS = ("new", "kept", "rotated")


class DeviceKeyMismatch(InvalidInput):
    status_code = 409
    message = "The current key sent for device {device_id} is not the registered one; the key was not changed."


class FactoryDeviceNotFound(NotFound):
    message = "Device {device_id} is not registered."


def record_provisioning(
    session: Session,
    *,
    device_id: str,
    key: bytes,
    claim_code: str,
    status: str,
    reason: str,
    identity: str,
    station: str,
    operator: str,
    hardware_revision: str,
    firmware_version: str,
    image_sha256: str,
    batch: str,
    tests: list[dict[str, Any]],
    is_virtual: bool = False,
    settings: Settings | None = None,
) -> tuple[FactoryRecord, Device | None, bool]:
    """Store a station's record; a passing board is registered (or confirmed) in the same transaction.

    Returns the record, the device (None for a rejected board) and whether the device was created.
    """
    if status not in STATUSES:
        raise InvalidInput("Invalid status {status}: use passed or rejected.", status=status)
    if identity not in IDENTITY_ACTIONS:
        raise InvalidInput("Invalid identity action {identity}: use new, kept or rotated.",
                           identity=identity)
    if status == "passed" and not all(test.get("passed") for test in tests):
        raise InvalidInput("A board with a failed test cannot be recorded as passed.")

    device, created = None, False
    if status == "passed":
        device, created = service.register_factory_device(
            session, device_id, key, claim_code, hardware_revision=hardware_revision,
            firmware_version=firmware_version, is_virtual=is_virtual, settings=settings,
        )
    record = FactoryRecord(
        device_id=device_id, status=status, reason=reason[:500], identity=identity,
        station=station, operator=operator, hardware_revision=hardware_revision,
        firmware_version=firmware_version, image_sha256=image_sha256, batch=batch, tests=tests,
    )
    session.add(record)
    session.flush()
    log.info("factory.recorded", device_id=device_id, status=status, station=station,
             batch=batch, created=created)
    return record, device, created


def rotate_key(session: Session, device_id: str, current_key: bytes, new_key: bytes,
               settings: Settings | None = None) -> Device:
    """Replace a device's key; the caller proves it holds the board by sending the current key."""
    settings = settings or get_settings()
    device = session.get(Device, device_id)
    if device is None:
        raise FactoryDeviceNotFound(device_id=device_id)
    if not hmac.compare_digest(service.device_key(device, settings), current_key):
        raise DeviceKeyMismatch(device_id=device_id)
    device.key_encrypted = service.encrypt_key(new_key, settings)
    session.add(device)
    session.flush()
    log.info("factory.key_rotated", device_id=device_id)
    return device


def records_for(session: Session, device_id: str | None = None, batch: str | None = None
                ) -> list[FactoryRecord]:
    query = select(FactoryRecord).order_by(col(FactoryRecord.id))
    if device_id is not None:
        query = query.where(FactoryRecord.device_id == device_id)
    if batch is not None:
        query = query.where(FactoryRecord.batch == batch)
    return list(session.exec(query).all())

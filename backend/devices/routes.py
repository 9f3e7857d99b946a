from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.db import get_engine
from backend.core.errors import Forbidden, IkkiError
from backend.core.settings import get_settings
from backend.devices import service
from backend.devices.models import Device, DeviceEvent
from backend.devices.protocol import config_topic, events_topic
from backend.web.deps import current_user, db_session
from backend.web.security import flash, verify_csrf
from backend.web.templating import environment, render

router = APIRouter()

# English msgids of the states a sticker reports; an unknown state is shown as sent.
STATE_LABELS = {
    None: "Not heard from yet",
    "unprovisioned": "Not provisioned",
    "idle": "Idle",
    "arming": "Arming",
    "armed": "Armed",
    "crying": "Crying",
    "reporting": "Reporting",
    "done": "Done",
    "opened": "Letter opened",
}


def sticker_state_label(state: str | None) -> str:
    return STATE_LABELS.get(state, state or "")


@dataclass
class LetterStickers:
    """Stickers for the invoice page: the one linked to each letter, and the owner's free ones."""

    linked: dict[int, Device] = field(default_factory=dict)
    available: list[Device] = field(default_factory=list)


def letter_stickers(owner_id: int, letters: Iterable[Any]) -> LetterStickers:
    """Load the stickers linked to the letters and the owner's stickers linked to none.

    Called from the template devices/invoice_stickers.html, which the invoice page includes
    with only ``invoice`` and ``letters``, so it reads in a session of its own.
    """
    letter_ids = [letter.id for letter in letters]
    with Session(get_engine(), expire_on_commit=False) as session:
        linked = service.devices_for_letters(session, letter_ids)
        available = [device for device in service.devices_for_owner(session, owner_id)
                     if device.letter_id is None]
    return LetterStickers(linked=linked, available=available)


environment.globals["letter_stickers"] = letter_stickers
environment.globals["sticker_state_label"] = sticker_state_label


def _safe_next(url: str, default: str) -> str:
    # Only paths on this site, so the form cannot send the user elsewhere.
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


# Pages


@router.get("/stickers")
def stickers_page(request: Request, user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")):
    from backend.collection.service import get_letter

    devices = service.devices_for_owner(session, user.id)
    letter_invoices = {device.letter_id: get_letter(session, device.letter_id).invoice_id
                       for device in devices if device.letter_id is not None}
    return render(request, "devices/stickers.html", devices=devices, letter_invoices=letter_invoices)


@router.post("/stickers/claim", dependencies=[Depends(verify_csrf)])
def claim_sticker(request: Request, claim_code: str = Form(...), user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")):
    device = service.claim_device(session, user.id, claim_code)
    message = request.state.gettext("The sticker {claim_code} is now yours. Link it to a reminder letter "
                                    "on the invoice page.")
    flash(request, message.format(claim_code=device.claim_code), "success")
    return RedirectResponse("/stickers", status_code=303)


@router.post("/stickers/link", dependencies=[Depends(verify_csrf)])
def link_sticker(request: Request, device_id: str = Form(...), letter_id: int = Form(...),
                 next_url: str = Form("/stickers", alias="next"), user: User = Depends(current_user),
                 session: Session = Depends(db_session, scope="function")):
    device = service.link_to_letter(session, user.id, device_id, letter_id)
    message = request.state.gettext("The sticker {claim_code} is linked to letter #{letter_id}. "
                                    "Put it in the dashed box of the letter before you close the envelope.")
    flash(request, message.format(claim_code=device.claim_code, letter_id=letter_id), "success")
    return RedirectResponse(_safe_next(next_url, "/stickers"), status_code=303)


# JSON API for the owner


class StickerOut(BaseModel):
    device_id: str
    claim_code: str
    state: str | None
    last_seen_at: datetime | None
    claimed_at: datetime | None
    letter_id: int | None
    firmware_version: str | None
    hardware_revision: str | None
    is_virtual: bool

    @classmethod
    def of(cls, device: Device) -> StickerOut:
        return cls.model_validate(device, from_attributes=True)


class EventOut(BaseModel):
    seq: int
    type: str
    received_at: datetime
    device_uptime_ms: int
    queued_ms: int

    @classmethod
    def of(cls, event: DeviceEvent) -> EventOut:
        return cls(seq=event.seq, type=event.event_type, received_at=event.received_at,
                   device_uptime_ms=event.device_uptime_ms, queued_ms=event.queued_ms)


class StickerDetailOut(StickerOut):
    events: list[EventOut]


class ClaimIn(BaseModel):
    claim_code: str = Field(max_length=40)


class LinkIn(BaseModel):
    letter_id: int


@router.get("/api/stickers")
def list_stickers(user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")) -> list[StickerOut]:
    return [StickerOut.of(device) for device in service.devices_for_owner(session, user.id)]


@router.get("/api/stickers/{device_id}")
def sticker_detail(device_id: str, user: User = Depends(current_user),
                   session: Session = Depends(db_session, scope="function")) -> StickerDetailOut:
    device = service.get_owned_device(session, user.id, device_id)
    events = [EventOut.of(event) for event in service.recent_events(session, device_id)]
    return StickerDetailOut(**StickerOut.of(device).model_dump(), events=events)


@router.post("/api/stickers/claim", dependencies=[Depends(verify_csrf)])
def claim_sticker_api(body: ClaimIn, user: User = Depends(current_user),
                      session: Session = Depends(db_session, scope="function")) -> StickerOut:
    return StickerOut.of(service.claim_device(session, user.id, body.claim_code))


@router.post("/api/stickers/{device_id}/link", dependencies=[Depends(verify_csrf)])
def link_sticker_api(device_id: str, body: LinkIn, user: User = Depends(current_user),
                     session: Session = Depends(db_session, scope="function")) -> StickerOut:
    return StickerOut.of(service.link_to_letter(session, user.id, device_id, body.letter_id))


# Factory station API


class FactoryApiDisabled(Forbidden):
    message = "The factory API is disabled on this server. Set IKKI_FACTORY_TOKEN to enable it."


class InvalidFactoryToken(IkkiError):
    status_code = 401
    message = "Missing or wrong factory token. Send the header: Authorization: Bearer <factory token>."


def require_factory_token(request: Request) -> None:
    expected = get_settings().factory_token
    if not expected:
        raise FactoryApiDisabled()
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise InvalidFactoryToken()


class FactoryDeviceIn(BaseModel):
    device_id: str = Field(max_length=64)
    key: str = Field(max_length=64, description="the device key as 64 hexadecimal digits")
    claim_code: str | None = Field(default=None, max_length=40)
    hardware_revision: str | None = Field(default=None, max_length=40)
    firmware_version: str | None = Field(default=None, max_length=40)
    is_virtual: bool = False


class FactoryDeviceOut(BaseModel):
    device_id: str
    claim_code: str
    created: bool
    mqtt_host: str
    mqtt_port: int
    mqtt_username: str
    events_topic: str
    config_topic: str


@router.post("/api/factory/devices", status_code=201, dependencies=[Depends(require_factory_token)])
def register_factory_device(body: FactoryDeviceIn, response: Response,
                            session: Session = Depends(db_session, scope="function")) -> FactoryDeviceOut:
    """Register a device with its key; the same id and key again returns 200 and changes nothing."""
    settings = get_settings()
    device, created = service.register_factory_device(
        session, body.device_id, service.parse_key_hex(body.key), body.claim_code,
        hardware_revision=body.hardware_revision, firmware_version=body.firmware_version,
        is_virtual=body.is_virtual, settings=settings,
    )
    if not created:
        response.status_code = 200
    return FactoryDeviceOut(
        device_id=device.device_id,
        claim_code=device.claim_code,
        created=created,
        mqtt_host=settings.mqtt_device_host,
        mqtt_port=settings.mqtt_device_port,
        mqtt_username=device.device_id,
        events_topic=events_topic(device.device_id),
        config_topic=config_topic(device.device_id),
    )

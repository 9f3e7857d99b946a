"""The demo page: open and close the virtual sticker's envelope from the browser."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.errors import InvalidInput, NotFound
from backend.core.settings import get_settings
from backend.devices import service
from backend.devices.models import Device
from backend.devices.routes import sticker_state_label
from backend.devices.virtual import demo_board
from backend.web.deps import current_user, db_session
from backend.web.security import verify_csrf
from backend.web.templating import render

router = APIRouter()


class NoVirtualSticker(NotFound):
    message = "You have no virtual sticker. Start the product with `ikki up` to get one."


class DemoState(BaseModel):
    device_id: str
    claim_code: str
    running: bool
    state: str
    state_label: str
    envelope: str
    letter_id: int | None
    invoice_id: int | None
    letter_opened: bool


def _virtual_sticker(session: Session, owner_id: int) -> Device | None:
    for device in service.devices_for_owner(session, owner_id):
        if device.is_virtual:
            return device
    return None


def _demo_state(session: Session, request: Request, device: Device) -> DemoState:
    from backend.collection.service import get_letter
    from backend.devices.virtual import board_directory
    from simulator.vboard import LIGHT_OPEN

    settings = get_settings()
    running = (board_directory(settings, device.device_id) / "hardware.json").exists()
    board_state = demo_board(settings, device.device_id).state() if running else {}
    letter = get_letter(session, device.letter_id) if device.letter_id is not None else None
    state = board_state.get("state", "off") if running else "off"
    light = board_state.get("light") or 0
    gettext = request.state.gettext
    return DemoState(
        device_id=device.device_id,
        claim_code=device.claim_code,
        running=running and board_state.get("power") == "on",
        state=state,
        state_label=gettext(sticker_state_label(state)) if state != "off" else gettext("Switched off"),
        envelope="open" if light >= LIGHT_OPEN // 2 else "closed",
        letter_id=letter.id if letter else None,
        invoice_id=letter.invoice_id if letter else None,
        letter_opened=bool(letter and letter.opened_at),
    )


@router.get("/demo")
def demo_page(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    device = _virtual_sticker(session, user.id)
    demo = _demo_state(session, request, device) if device else None
    return render(request, "devices/demo.html", demo=demo)


@router.get("/api/demo/state", response_model=DemoState)
def demo_state(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    device = _virtual_sticker(session, user.id)
    if device is None:
        raise NoVirtualSticker()
    return _demo_state(session, request, device)


@router.post("/demo/envelope", dependencies=[Depends(verify_csrf)])
def demo_envelope(request: Request, action: str = Form(...), user: User = Depends(current_user),
                  session: Session = Depends(db_session, scope="function")):
    device = _virtual_sticker(session, user.id)
    if device is None:
        raise NoVirtualSticker()
    board = demo_board(get_settings(), device.device_id)
    if action == "open":
        board.open_envelope()
    elif action == "close":
        board.close_envelope()
    else:
        raise InvalidInput("Unknown envelope action {action}: use open or close.", action=action)
    return RedirectResponse("/demo", status_code=303)


@router.get("/demo/audio.wav")
def demo_audio(user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    device = _virtual_sticker(session, user.id)
    if device is None:
        raise NoVirtualSticker()
    path = demo_board(get_settings(), device.device_id).wav_path
    if not path.is_file():
        raise NotFound("The virtual sticker has not cried yet.")
    return FileResponse(path, media_type="audio/wav", filename="sticker-cry.wav")

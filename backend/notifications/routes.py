from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.errors import NotFound
from backend.core.settings import get_settings
from backend.notifications import service
from backend.web.deps import current_user, db_session
from backend.web.templating import render

router = APIRouter()


class MessageNotFound(NotFound):
    message = "Message {message_id} not found."


@router.get("/outbox")
def outbox_page(request: Request, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    messages = service.messages_for_owner(session, user.id)
    return render(request, "notifications/outbox.html", messages=messages)


def _owned_file(session: Session, user: User, message_id: int, audio: bool) -> Path:
    message = service.get_owned_message(session, user.id, message_id)
    raw = None if message is None else (message.audio_path if audio else message.file_path)
    if raw is None:
        raise MessageNotFound(message_id=message_id)
    path = Path(raw).resolve()
    if not path.is_relative_to(get_settings().data_dir.resolve()) or not path.is_file():
        raise MessageNotFound(message_id=message_id)
    return path


@router.get("/outbox/{message_id}/file")
def message_file(message_id: int, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    path = _owned_file(session, user, message_id, audio=False)
    media_type = "message/rfc822" if path.suffix == ".eml" else "text/plain; charset=utf-8"
    return FileResponse(path, media_type=media_type, filename=path.name)


@router.get("/outbox/{message_id}/audio")
def message_audio(message_id: int, user: User = Depends(current_user), session: Session = Depends(db_session, scope="function")):
    path = _owned_file(session, user, message_id, audio=True)
    return FileResponse(path, media_type="audio/wav", filename=path.name)

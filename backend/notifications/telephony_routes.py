"""The telephony provider's status callback: a signed form POST with the call's outcome."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from backend.core.settings import get_settings
from backend.notifications import telephony
from backend.notifications.call_jobs import CALLBACK_PATH, attempt_by_provider_id, record_outcome
from backend.notifications.call_models import CALL_OUTCOMES
from backend.web.deps import db_session

log = structlog.get_logger(__name__)

router = APIRouter()


@router.post(CALLBACK_PATH)
async def call_status(request: Request, session: Session = Depends(db_session, scope="function")) -> JSONResponse:
    settings = get_settings()
    form = await request.form()
    params = {name: str(value) for name, value in form.items()}
    # The provider signs the URL it was given, which is built from base_url, not the Host header.
    url = settings.base_url.rstrip("/") + CALLBACK_PATH
    if not telephony.verify_callback(settings.telephony_webhook_secret, url, params,
                                     request.headers.get(telephony.SIGNATURE_HEADER)):
        log.warning("call.callback_rejected", reason="bad signature", call_id=params.get("call_id"))
        return JSONResponse({"error": "InvalidSignature"}, status_code=403)
    status = params.get("status", "")
    if status not in CALL_OUTCOMES:
        # Intermediate states (ringing, in-progress) carry no outcome.
        return JSONResponse({"accepted": False, "status": status})
    attempt = attempt_by_provider_id(session, params.get("call_id", ""))
    if attempt is None:
        log.warning("call.callback_unknown", call_id=params.get("call_id"))
        return JSONResponse({"error": "UnknownCall"}, status_code=404)
    record_outcome(session, attempt, status, settings)
    return JSONResponse({"accepted": True})

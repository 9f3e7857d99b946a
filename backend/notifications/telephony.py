"""Telephony: when a call may start, and the providers that place it.

Two providers share one interface. ``LocalTelephony`` calls nobody: it speaks the script into a
WAV file with espeak-ng where installed. ``RestTelephony`` creates the call with a text-to-speech
script through a provider's REST API, in the style of the major cloud telephony services, and
learns the outcome from a status callback signed with HMAC-SHA256 (``callback_signature``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Protocol

import httpx
import structlog

from backend.core.settings import Settings
from backend.core.time import BRUSSELS, to_brussels
from backend.notifications import calls

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Telephony-Signature"
REQUEST_TIMEOUT_S = 10.0
# Voices of the REST provider's text-to-speech, per debtor language.
TTS_LANGUAGES = {"fr": "fr-BE", "nl": "nl-BE", "en": "en-GB"}
# Outcomes after which the call is tried again later.
RETRY_OUTCOMES = ("no-answer", "busy")


class TelephonyError(Exception):
    """The provider rejected the call or could not be reached."""


class TelephonyNotConfigured(TelephonyError):
    """The REST provider is selected but its base URL, account or token is missing."""


@dataclass(frozen=True)
class CallRequest:
    to: str
    script: str
    language: str
    status_callback: str
    # Our reference, echoed by the provider: the call attempt's id.
    reference: str
    audio_path: Path | None = None


@dataclass(frozen=True)
class CallResult:
    provider_call_id: str
    # "queued" while the provider works, or a final outcome (CALL_OUTCOMES).
    status: str


class TelephonyProvider(Protocol):
    name: str

    def place_call(self, request: CallRequest) -> CallResult: ...


# --- When a call may start ---------------------------------------------------------------


def is_call_day(day) -> bool:
    from backend.collection.consumer import is_public_holiday

    return day.weekday() < 5 and not is_public_holiday(day)


def next_call_slot(moment: datetime, start_hour: int, end_hour: int) -> datetime:
    """Return ``moment`` if a call may start then, else the next start of calling hours (in UTC).

    Calls start on Belgian working days, Monday to Friday except public holidays, from
    ``start_hour`` to before ``end_hour``, Europe/Brussels time.
    """
    local = to_brussels(moment)
    day = local.date()
    if is_call_day(day) and start_hour <= local.hour < end_hour:
        return moment
    if is_call_day(day) and local.hour < start_hour:
        return datetime.combine(day, time(start_hour), BRUSSELS).astimezone(moment.tzinfo)
    day += timedelta(days=1)
    while not is_call_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(start_hour), BRUSSELS).astimezone(moment.tzinfo)


# --- Signed status callbacks -------------------------------------------------------------


def callback_signature(secret: str, url: str, params: dict[str, str]) -> str:
    """Sign a form-encoded callback: base64 of HMAC-SHA256 over the full URL followed by each
    parameter's name and value, sorted by name, with no separators."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_callback(secret: str, url: str, params: dict[str, str], signature: str | None) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(callback_signature(secret, url, params), signature)


# --- Providers ---------------------------------------------------------------------------


class LocalTelephony:
    """Calls nobody: renders the script to a WAV file where espeak-ng is installed."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def place_call(self, request: CallRequest) -> CallResult:
        path = self.settings.calls_dir / f"call-{request.reference}.wav"
        spoken = calls.speakable(request.script, [])
        rendered = calls.render_wav(spoken, request.language, path, self.settings.espeak_command)
        log.info("call.rendered_locally", reference=request.reference, audio=rendered is not None)
        return CallResult(provider_call_id=f"local-{request.reference}", status="rendered")


class RestTelephony:
    """Creates calls with ``POST {base}/v1/accounts/{account}/calls`` and a bearer token."""

    name = "rest"

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        if not (settings.telephony_rest_base_url and settings.telephony_rest_account and settings.telephony_rest_token):
            raise TelephonyNotConfigured(
                "IKKI_TELEPHONY_REST_BASE_URL, IKKI_TELEPHONY_REST_ACCOUNT and IKKI_TELEPHONY_REST_TOKEN must be set")
        self.settings = settings
        self.client = client or httpx.Client(timeout=REQUEST_TIMEOUT_S)

    def place_call(self, request: CallRequest) -> CallResult:
        settings = self.settings
        url = f"{settings.telephony_rest_base_url.rstrip('/')}/v1/accounts/{settings.telephony_rest_account}/calls"
        body = {
            "to": request.to,
            "from": settings.telephony_caller_id,
            "tts": {"text": request.script, "language": TTS_LANGUAGES.get(request.language, "en-GB")},
            "status_callback": request.status_callback,
            "status_callback_method": "POST",
            "client_reference": request.reference,
        }
        try:
            response = self.client.post(url, json=body, headers={"Authorization": f"Bearer {settings.telephony_rest_token}"})
        except httpx.HTTPError as error:
            raise TelephonyError(f"telephony provider unreachable: {error}") from error
        if response.status_code >= 400:
            raise TelephonyError(f"telephony provider rejected the call: HTTP {response.status_code} {response.text[:200]}")
        data = response.json()
        log.info("call.placed", reference=request.reference, provider_call_id=data.get("id"), status=data.get("status"))
        return CallResult(provider_call_id=str(data["id"]), status=str(data.get("status", "queued")))


def provider_for(settings: Settings) -> TelephonyProvider:
    if settings.telephony_provider == "rest":
        return RestTelephony(settings)
    return LocalTelephony(settings)

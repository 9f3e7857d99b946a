"""Helpers shared by the pages of the marketplace, contracts and timesheets."""

from __future__ import annotations

from datetime import date

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from backend.core.db import get_engine
from backend.core.errors import InvalidInput
from backend.marketplace import labels, notices, regions
from backend.marketplace.service import WORK_LANGUAGES, format_enterprise_number, language_name
from backend.web.deps import db_session
from backend.web.security import flash
from backend.web.templating import environment

# The request's database session, committed when the route function returns and before
# the response is sent. FastAPI 0.118 and later end a yield dependency after sending the
# response by default, so a browser that follows a redirect could otherwise read the state
# from before the commit, and a failed commit would follow a reported success.
Transaction = Depends(db_session, scope="function")


def unread_notice_count(user_id: int) -> int:
    """Count the user's unread notices for the navigation bar, in a session of its own."""
    with Session(get_engine()) as session:
        return notices.unread_count(session, user_id)


def register_template_globals() -> None:
    """Make labels and helpers available to every template, including the base layout.

    The layout shows the unread count on every page, whichever domain renders it, so
    the helpers are globals of the shared environment rather than per-page context.
    """
    environment.globals.update(
        unread_notice_count=unread_notice_count,
        language_name=language_name,
        work_languages=WORK_LANGUAGES,
        region_names=regions.REGION_NAMES,
        region_choices=regions.sorted_region_choices,
        enterprise_number=format_enterprise_number,
        mission_status_labels=labels.MISSION_STATUS_LABELS,
        mission_action_labels=labels.MISSION_ACTION_LABELS,
        application_status_labels=labels.APPLICATION_STATUS_LABELS,
        work_mode_labels=labels.WORK_MODE_LABELS,
        check_kind_labels=labels.CHECK_KIND_LABELS,
        check_outcome_labels=labels.CHECK_OUTCOME_LABELS,
        skill_level_labels=labels.SKILL_LEVEL_LABELS,
        connection_status_labels=labels.CONNECTION_STATUS_LABELS,
        notice_text=notices.notice_text,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def done(request: Request, message: str, url: str, **params) -> RedirectResponse:
    """Flash a translated success message and redirect, as every form post ends."""
    flash(request, request.state.gettext(message).format(**params), "success")
    return redirect(url)


def parse_day(raw: str | None, *, required: bool = True) -> date | None:
    """Parse a date field in ISO form (what <input type="date"> sends)."""
    text = (raw or "").strip()
    if not text:
        if required:
            raise InvalidInput("A date is missing.")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Invalid date {value}: use the date picker or write YYYY-MM-DD.", value=text) from None


def parse_int(raw: str | None, *, default: int | None = None) -> int:
    text = (raw or "").strip()
    if not text and default is not None:
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("Invalid number {value}: write digits only.", value=text) from None

"""In-app notifications of the marketplace, contracts and timesheets, and their e-mails.

A notice stores its kind and parameters, never its text: the text is rendered in the
reader's language when shown, and in the recipient's language when e-mailed. Kinds in
``EMAILED_KINDS`` also queue an outbox job, so the e-mail leaves only after the change
that caused it is committed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session, select

from backend.core.time import utcnow
from backend.marketplace.errors import NoticeNotFound
from backend.marketplace.labels import gettext_noop
from backend.marketplace.models import Notice
from backend.notifications.jobs import queue_job
from backend.web import i18n

log = structlog.get_logger(__name__)

EMAIL_JOB_KIND = "email.marketplace"

NOTICE_TEXTS = {
    "mission_match": gettext_noop("A new mission fits your profile: {mission}."),
    "invitation": gettext_noop("{company} invites you to apply for the mission {mission}."),
    "application": gettext_noop("{freelancer} applied for the mission {mission}."),
    "invitation_declined": gettext_noop("{freelancer} declined your invitation for the mission {mission}."),
    "shortlisted": gettext_noop("You are on the shortlist for the mission {mission}."),
    "unshortlisted": gettext_noop("You are no longer on the shortlist for the mission {mission}."),
    "not_selected": gettext_noop("{company} chose another freelancer for the mission {mission}."),
    "hired": gettext_noop("{company} chose you for the mission {mission}."),
    "contract_to_accept": gettext_noop("The contract for the mission {mission} is ready: read it and accept it."),
    "contract_signed": gettext_noop("Both parties accepted the contract for the mission {mission}."),
    "timesheet_to_approve": gettext_noop(
        "{freelancer} submitted the hours of the week of {week} for the mission {mission}."),
    "timesheet_approved": gettext_noop("The hours of the week of {week} for the mission {mission} are approved."),
    "timesheet_rejected": gettext_noop(
        "The hours of the week of {week} for the mission {mission} were rejected: {comment}"),
    "connection_request": gettext_noop("{name} would like to add you to their contacts."),
    "connection_accepted": gettext_noop("{name} accepted your contact request."),
    "contact_message": gettext_noop("New message from {name}."),
    "recommendation": gettext_noop("{name} recommended your experience “{experience}”."),
}

EMAILED_KINDS = frozenset({
    "mission_match", "invitation", "application", "shortlisted", "unshortlisted", "not_selected", "hired",
    "contract_to_accept", "timesheet_to_approve",
})

# Parameters stored as ISO dates, shown in the reader's date format.
DATE_PARAMS = frozenset({"week"})


def notify(session: Session, user_ids: list[int], kind: str, link: str, **params: Any) -> list[Notice]:
    """Add a notice for each user, and queue its e-mail when the kind is e-mailed."""
    if kind not in NOTICE_TEXTS:
        raise ValueError(f"unknown notice kind {kind!r}")
    stored = {name: value.isoformat() if isinstance(value, date) else str(value) if isinstance(value, Decimal)
              else value for name, value in params.items()}
    notices = []
    for user_id in dict.fromkeys(user_ids):
        notice = Notice(user_id=user_id, kind=kind, params=stored, link=link)
        session.add(notice)
        session.flush()
        if kind in EMAILED_KINDS:
            queue_job(session, EMAIL_JOB_KIND, payload={"notice_id": notice.id},
                      dedupe_key=f"notice:{notice.id}:email")
        notices.append(notice)
    log.info("notice.created", kind=kind, users=len(notices))
    return notices


def notice_text(notice: Notice, language: str) -> str:
    gettext = i18n.gettext_for(language)
    params = dict(notice.params)
    for name in DATE_PARAMS & params.keys():
        params[name] = i18n.format_day(date.fromisoformat(params[name]), language)
    return gettext(NOTICE_TEXTS[notice.kind]).format(**params)


def notices_for_user(session: Session, user_id: int, limit: int = 100) -> list[Notice]:
    query = select(Notice).where(Notice.user_id == user_id).order_by(Notice.id.desc()).limit(limit)
    return list(session.exec(query).all())


def unread_count(session: Session, user_id: int) -> int:
    query = select(sa.func.count()).select_from(Notice).where(Notice.user_id == user_id,
                                                              Notice.read_at.is_(None))
    return session.exec(query).one()


def get_notice(session: Session, user_id: int, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.user_id != user_id:
        raise NoticeNotFound(notice_id=notice_id)
    return notice


def mark_read(session: Session, notice: Notice) -> None:
    if notice.read_at is None:
        notice.read_at = utcnow()
        session.add(notice)


def mark_all_read(session: Session, user_id: int) -> int:
    unread = session.exec(select(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))).all()
    now = utcnow()
    for notice in unread:
        notice.read_at = now
        session.add(notice)
    return len(unread)

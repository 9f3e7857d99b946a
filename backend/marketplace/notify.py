"""The outbox job that e-mails a marketplace notice to its recipient, in their language."""

from __future__ import annotations

import structlog
from sqlmodel import Session

from backend.accounts import service as accounts
from backend.core.settings import get_settings
from backend.core.time import utcnow
from backend.marketplace.models import Notice
from backend.marketplace.notices import EMAIL_JOB_KIND, notice_text
from backend.notifications.email import OutgoingEmail, deliver
from backend.notifications.jobs import PermanentJobError, handler
from backend.notifications.models import Job
from backend.web import i18n
from backend.web.templating import render_text

log = structlog.get_logger(__name__)


@handler(EMAIL_JOB_KIND)
def send_notice_email(session: Session, job: Job) -> None:
    """E-mail the notice of ``job.payload["notice_id"]`` with a link to the page it is about."""
    settings = get_settings()
    notice = session.get(Notice, job.payload.get("notice_id"))
    if notice is None:
        raise PermanentJobError(f"notice {job.payload.get('notice_id')} does not exist")
    if notice.emailed_at is not None:
        log.info("notice.email_skipped", notice_id=notice.id, reason="already sent")
        return
    recipient = accounts.get_user(session, notice.user_id)
    if recipient is None:
        raise PermanentJobError(f"user {notice.user_id} of notice {notice.id} does not exist")

    # A user who follows the browser's language has none stored; e-mails then use the default.
    language = recipient.language or i18n.DEFAULT_LANGUAGE
    gettext = i18n.gettext_for(language)
    summary = notice_text(notice, language)
    subject = gettext("Ikki: {summary}").format(summary=summary)
    text = render_text("marketplace/notice_email.txt", language, name=recipient.name, summary=summary,
                       url=settings.base_url.rstrip("/") + notice.link)
    email = OutgoingEmail(to=recipient.email, subject=subject, text=text, language=language)

    deliver(email, settings, name_hint=f"job-{job.id}-notice-{notice.id}")

    notice.emailed_at = utcnow()
    session.add(notice)
    log.info("notice.emailed", notice_id=notice.id, kind=notice.kind, language=language)

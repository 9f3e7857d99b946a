"""The collection e-mails: the friendly reminder and the e-mail copy of the formal notice."""

from __future__ import annotations

import structlog
from sqlmodel import Session

from backend.collection import disputes
from backend.collection.figures import reminder_figures
from backend.collection.models import StepClaim
from backend.core.settings import get_settings
from backend.core.time import to_brussels, utcnow
from backend.invoicing import service as invoicing
from backend.notifications.email import OutgoingEmail, deliver
from backend.notifications.jobs import PermanentJobError, handler
from backend.notifications.models import Job, Message
from backend.web.i18n import gettext_for
from backend.web.templating import render_text

log = structlog.get_logger(__name__)

SUBJECTS = {
    "friendly_email": "Invoice {number}: friendly payment reminder",
    "formal_notice": "Invoice {number}: formal notice to pay",
}


def reminder_context(session: Session, invoice_id: int, step: str, pay_by=None) -> dict:
    """Return what a reminder e-mail or letter shows: contact, figures, supplier and lines."""
    contact = invoicing.debtor_contact(session, invoice_id)
    detail = invoicing.get_invoice_detail(session, contact.owner_id, invoice_id)
    today = to_brussels(utcnow()).date()
    figures = reminder_figures(session, invoice_id, today, pay_by=pay_by)
    base_url = get_settings().base_url.rstrip("/")
    return {"contact": contact, "figures": figures, "step": step, "supplier": detail.supplier,
            "lines": detail.lines, "invoice": detail.invoice, "today": today,
            "debtor_link": f"{base_url}/debtor/{disputes.debtor_token(invoice_id)}"}


@handler("email.collection_reminder")
def send_collection_reminder(session: Session, job: Job) -> None:
    settings = get_settings()
    claim = session.get(StepClaim, job.payload["claim_id"])
    invoice = invoicing.get_invoice(session, job.invoice_id)
    if invoice.status != "open" or invoice.amount_due <= 0:
        invoicing.record_timeline(session, invoice.id, "email_skipped", step=claim.step, reason=invoice.status)
        return
    contact = invoicing.debtor_contact(session, job.invoice_id)
    if not contact.debtor_email:
        raise PermanentJobError(f"invoice {contact.invoice_number} has no debtor e-mail address")

    language = contact.language
    subject = gettext_for(language)(SUBJECTS[claim.step]).format(number=contact.invoice_number)
    text = render_text("collection/reminder_email.txt", language,
                       **reminder_context(session, job.invoice_id, claim.step, claim.pay_by))
    email = OutgoingEmail(to=contact.debtor_email, subject=subject, text=text, language=language)
    transport, path = deliver(email, settings, name_hint=f"job-{job.id}-invoice-{contact.invoice_id}")

    session.add(Message(job_id=job.id, owner_id=contact.owner_id, invoice_id=contact.invoice_id, channel="email",
                        recipient=contact.debtor_email, language=language, subject=subject, body_text=text,
                        transport=transport, file_path=str(path) if path else None))
    invoicing.record_timeline(session, contact.invoice_id, "email_sent", to=contact.debtor_email, language=language,
                              transport=transport, step=claim.step)

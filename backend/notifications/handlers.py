"""Job handlers: what each kind of outbox job does when a worker runs it."""

from __future__ import annotations

import segno
import structlog
from sqlmodel import Session, select

from backend.core.settings import get_settings
from backend.invoicing import service as invoicing
from backend.invoicing.epc import epc_payload
from backend.core.time import utcnow
from backend.notifications import call_jobs, calls
from backend.notifications.email import Attachment, OutgoingEmail, deliver
from backend.notifications.jobs import PermanentJobError, handler
from backend.notifications.models import Job, Message
from backend.web.i18n import gettext_for
from backend.web.templating import render_text

log = structlog.get_logger(__name__)

QR_CONTENT_ID = "payment-qr@ikki"


def _qr_png(contact) -> bytes:
    payload = epc_payload(
        bic=contact.bic, name=contact.creditor_name, iban=contact.iban, amount=contact.amount_due,
        structured_reference=contact.structured_communication_digits,
    )
    qr = segno.make(payload, error="m", mode="byte")
    import io

    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=5, border=4)
    return buffer.getvalue()


@handler("email.letter_opened")
def send_letter_opened_email(session: Session, job: Job) -> None:
    """E-mail the debtor, in their language, the invoice and how to pay it."""
    settings = get_settings()
    contact = invoicing.debtor_contact(session, job.invoice_id)
    if not contact.debtor_email:
        raise PermanentJobError(f"invoice {contact.invoice_number} has no debtor e-mail address")

    language = contact.language
    gettext = gettext_for(language)
    subject = gettext("Invoice {number}: payment reminder").format(number=contact.invoice_number)
    context = {"contact": contact, "qr_content_id": QR_CONTENT_ID}
    text = render_text("notifications/letter_opened_email.txt", language, **context)
    html = render_text("notifications/letter_opened_email.html", language, **context)
    qr = Attachment(filename="payment-qr.png", content=_qr_png(contact), mime_type="image/png",
                    inline_id=QR_CONTENT_ID)
    email = OutgoingEmail(to=contact.debtor_email, subject=subject, text=text, html=html,
                          language=language, attachments=(qr,))

    transport, path = deliver(email, settings, name_hint=f"job-{job.id}-invoice-{contact.invoice_id}")

    session.add(Message(job_id=job.id, owner_id=contact.owner_id, invoice_id=contact.invoice_id,
                        channel="email", recipient=contact.debtor_email, language=language,
                        subject=subject, body_text=text, transport=transport,
                        file_path=str(path) if path else None))
    invoicing.record_timeline(session, contact.invoice_id, "email_sent", to=contact.debtor_email,
                              language=language, transport=transport)


@handler("call.letter_opened")
def render_letter_opened_call(session: Session, job: Job) -> None:
    """Prepare the debtor's call: the script in their language, spoken to a WAV where possible."""
    settings = get_settings()
    contact = invoicing.debtor_contact(session, job.invoice_id)
    if not contact.debtor_phone:
        raise PermanentJobError(f"invoice {contact.invoice_number} has no debtor phone number")

    language = contact.language
    script = render_text("notifications/letter_opened_call.txt", language, contact=contact).strip()
    base = settings.calls_dir / f"job-{job.id}-invoice-{contact.invoice_id}"
    base.parent.mkdir(parents=True, exist_ok=True)
    text_path = base.with_suffix(".txt")
    text_path.write_text(script + "\n", encoding="utf-8")
    spoken = calls.speakable(script, [contact.invoice_number])
    wav_path = calls.render_wav(spoken, language, base.with_suffix(".wav"), settings.espeak_command)

    session.add(Message(job_id=job.id, owner_id=contact.owner_id, invoice_id=contact.invoice_id,
                        channel="call", recipient=contact.debtor_phone, language=language,
                        subject="", body_text=script, transport=settings.telephony_provider,
                        file_path=str(text_path), audio_path=str(wav_path) if wav_path else None))
    invoicing.record_timeline(session, contact.invoice_id, "call_script_ready", to=contact.debtor_phone,
                              language=language, provider=settings.telephony_provider,
                              audio=wav_path is not None)
    session.flush()
    message = session.exec(select(Message).where(Message.job_id == job.id, Message.channel == "call")).one()
    call_jobs.schedule_call(session, contact.invoice_id, message.id, attempt=1, earliest=utcnow(), settings=settings)
import backend.marketplace.notify  # noqa: E402,F401  (registers the marketplace e-mail handler)
import backend.invoicing.jobs  # noqa: E402,F401  (registers the invoice e-mail handler)
import backend.collection.jobs  # noqa: E402,F401  (registers the collection reminder e-mails)

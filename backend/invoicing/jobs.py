"""Outbox job handlers of invoicing: the e-mail that sends an invoice or credit note.

``backend/notifications/handlers.py`` imports this module, which registers the handlers.
"""

from __future__ import annotations

import structlog
from sqlmodel import Session

from backend.core.settings import get_settings
from backend.invoicing import documents, peppol_export, sending
from backend.invoicing.formatting import format_iban
from backend.invoicing.service import get_invoice, get_invoice_detail, record_timeline
from backend.invoicing.structured_communication import format_digits
from backend.notifications.email import Attachment, OutgoingEmail, deliver
from backend.notifications.jobs import PermanentJobError, handler
from backend.notifications.models import Job, Message
from backend.web.i18n import gettext_for
from backend.web.templating import render_text

log = structlog.get_logger(__name__)


def _(message: str) -> str:
    """Mark a msgid for translation; it is translated where it is shown."""
    return message


INVOICE_SUBJECT = _("Invoice {number} from {supplier}")
CREDIT_NOTE_SUBJECT = _("Credit note {number} from {supplier}")


@handler(sending.EMAIL_JOB)
def send_invoice_email(session: Session, job: Job) -> None:
    """E-mail the document in the customer's language, with its PDF and UBL file attached."""
    settings = get_settings()
    invoice = get_invoice(session, job.invoice_id)
    detail = get_invoice_detail(session, invoice.owner_id, invoice.id)
    recipient = job.payload.get("to") or detail.customer.email
    if not recipient:
        raise PermanentJobError(f"invoice {invoice.number} has no customer e-mail address")
    if invoice.is_draft:
        raise PermanentJobError(f"invoice {invoice.id} is a draft")

    language = invoice.debtor_language
    gettext = gettext_for(language)
    supplier_name = detail.supplier.registration_name or detail.supplier.name
    subject = gettext(CREDIT_NOTE_SUBJECT if invoice.is_credit_note else INVOICE_SUBJECT).format(
        number=invoice.number, supplier=supplier_name)
    context = {"detail": detail, "invoice": invoice, "supplier_name": supplier_name,
               "structured_communication": format_digits(invoice.structured_communication)
               if invoice.structured_communication else None,
               "format_iban": format_iban}
    text = render_text("invoicing/invoice_email.txt", language, **context)
    html = render_text("invoicing/invoice_email.html", language, **context)
    pdf = documents.render_invoice_pdf(detail, language)
    ubl = peppol_export.export_ubl(detail)
    email = OutgoingEmail(
        to=recipient, subject=subject, text=text, html=html, language=language,
        attachments=(
            Attachment(filename=documents.pdf_filename(invoice), content=pdf, mime_type="application/pdf"),
            Attachment(filename=peppol_export.ubl_filename(invoice), content=ubl, mime_type="application/xml"),
        ),
    )

    transport, path = deliver(email, settings, name_hint=f"job-{job.id}-invoice-{invoice.id}")

    # NOTE: written to the notifications domain's table, so that the e-mail shows on the
    # outbox page like the others. Notifications offers no service function for it yet.
    session.add(Message(job_id=job.id, owner_id=invoice.owner_id, invoice_id=invoice.id, channel="email",
                        recipient=recipient, language=language, subject=subject, body_text=text,
                        transport=transport, file_path=str(path) if path else None))
    record_timeline(session, invoice.id, "invoice_sent", to=recipient, language=language, transport=transport,
                    attachments=2)

    point = sending.access_point(settings)
    receiver = sending.participant_id(detail.customer)
    if point is not None and receiver is not None:
        delivery = point.send(ubl, sender=sending.participant_id(detail.supplier) or "", receiver=receiver,
                              document_type=invoice.document_type)
        record_timeline(session, invoice.id, "peppol_sent", provider=delivery.provider,
                        message_id=delivery.message_id)
    log.info("invoice.sent", invoice_id=invoice.id, transport=transport, language=language)

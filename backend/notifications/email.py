"""E-mail delivery: SMTP when configured, otherwise .eml files under ``var/mail/``."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import structlog

from backend.core.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str
    inline_id: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str | None = None
    language: str = "fr"
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


def compose(email: OutgoingEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="ikki.example")
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
        html_part = message.get_payload()[-1]
        for attachment in email.attachments:
            if attachment.inline_id:
                maintype, subtype = attachment.mime_type.split("/")
                html_part.add_related(attachment.content, maintype=maintype, subtype=subtype,
                                      cid=f"<{attachment.inline_id}>", filename=attachment.filename)
    for attachment in email.attachments:
        if attachment.inline_id and email.html is not None:
            continue
        maintype, subtype = attachment.mime_type.split("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    # Set last: set_content() and add_*() drop the Content-* headers of the message.
    message["Content-Language"] = email.language
    return message


def deliver(email: OutgoingEmail, settings: Settings, name_hint: str) -> tuple[str, Path | None]:
    """Send the e-mail; returns the transport used and, for files, the .eml path."""
    message = compose(email, settings.mail_from)
    if settings.smtp_host:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as client:
            if settings.smtp_starttls:
                client.starttls()
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password)
            client.send_message(message)
        log.info("email.sent", transport="smtp", host=settings.smtp_host, subject=email.subject)
        return "smtp", None

    settings.mail_dir.mkdir(parents=True, exist_ok=True)
    path = settings.mail_dir / f"{name_hint}.eml"
    path.write_bytes(bytes(message))
    log.info("email.written", transport="file", path=str(path))
    return "file", path

"""Sending issued invoices and credit notes to the customer.

A send request queues an outbox job (``jobs.py``) in the caller's transaction, so the
e-mail leaves only after the request commits. The e-mail goes in the customer's language
with the PDF and the Peppol UBL file attached.

Peppol delivery goes through an access point chosen by the setting
``invoicing_peppol_provider``. No provider is configured yet ("none"): the UBL file is
then offered for download and attached to the e-mail, which the customer's software can
import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlmodel import Session

from backend.core.settings import Settings
from backend.invoicing import errors
from backend.invoicing.models import Invoice, InvoiceParty
from backend.invoicing.service import get_invoice_detail, record_timeline
from backend.notifications.service import queue_job

log = structlog.get_logger(__name__)

EMAIL_JOB = "email.invoice"


@dataclass(frozen=True)
class PeppolDelivery:
    """The receipt of an access point for a document it accepted."""

    provider: str
    message_id: str


class PeppolAccessPoint(Protocol):
    """A Peppol access point (corner 2) that forwards a UBL document to the receiver's."""

    name: str

    def send(self, ubl: bytes, *, sender: str, receiver: str, document_type: str) -> PeppolDelivery:
        """Send the document from ``sender`` to ``receiver`` (``scheme:identifier`` each).

        Raises ``errors.PeppolProviderFailed`` when the access point refuses it.
        """
        ...


def access_point(settings: Settings) -> PeppolAccessPoint | None:
    """Return the configured access point, or None while invoices go out by e-mail only."""
    if settings.invoicing_peppol_provider == "none":
        return None
    raise ValueError(f"unknown Peppol provider {settings.invoicing_peppol_provider!r}")


def participant_id(party: InvoiceParty) -> str | None:
    """Return ``scheme:identifier`` of a party's Peppol address, None for an e-mail address."""
    if party.endpoint_scheme and party.endpoint_id and party.endpoint_scheme != "EM":
        return f"{party.endpoint_scheme}:{party.endpoint_id}"
    return None


def request_send(session: Session, owner_id: int, invoice_id: int) -> Invoice:
    """Queue the e-mail of an issued document to the customer; it leaves after commit."""
    detail = get_invoice_detail(session, owner_id, invoice_id)
    invoice = detail.invoice
    if invoice.is_draft:
        raise errors.NothingToSend()
    if invoice.source != "issued":
        raise errors.NotSendable(number=invoice.number)
    if not detail.customer.email:
        raise errors.CustomerHasNoEmail(customer=detail.customer.name)

    queue_job(session, EMAIL_JOB, invoice_id=invoice.id, payload={"to": detail.customer.email})
    record_timeline(session, invoice.id, "send_requested", to=detail.customer.email)
    log.info("invoice.send_requested", invoice_id=invoice.id, owner_id=owner_id)
    return invoice

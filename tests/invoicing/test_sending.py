"""Sending issued invoices: an outbox job e-mails the PDF and the UBL file to a real SMTP server."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlmodel import select

from backend.core.db import session_scope
from backend.core.settings import get_settings
from backend.invoicing import errors, parties, peppol_validation, sending, service
from backend.invoicing.models import Invoice
from backend.notifications import jobs
from backend.notifications.models import Job, Message
from tests.conftest import free_port
from tests.invoicing import factories
from tests.invoicing.factories import SAMPLE_LINES
from tests.support.servers import SmtpSink


@pytest.fixture
def smtp(settings, monkeypatch):
    sink = SmtpSink(free_port())
    sink.start()
    monkeypatch.setenv("IKKI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IKKI_SMTP_PORT", str(sink.port))
    get_settings.cache_clear()
    yield sink
    sink.stop()
    get_settings.cache_clear()


def issued_for(engine, customer: str) -> tuple[int, Invoice]:
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, customer)
    return owner_id, factories.issued(engine, owner_id, customer_id, SAMPLE_LINES)


@pytest.mark.parametrize(("customer", "subject", "greeting"), [
    ("brasserie", "Facture 2026-0001 de Lien Verbeke", "Madame, Monsieur,"),
    ("bouw", "Factuur 2026-0001 van Lien Verbeke", "Geachte mevrouw, geachte heer,"),
    ("english", "Invoice 2026-0001 from Lien Verbeke", "Dear Sir or Madam,"),
])
def test_invoice_emailed_with_pdf_and_ubl(engine, smtp, customer, subject, greeting):
    owner_id, invoice = issued_for(engine, customer)
    with session_scope(engine) as session:
        sending.request_send(session, owner_id, invoice.id)

    assert jobs.run_due_jobs(engine) == 1
    [message] = smtp.wait_for(1, timeout=10)

    assert message["To"] == factories.CUSTOMERS[customer].email
    assert message["Subject"].strip() == subject.replace("2026", str(invoice.issue_date.year))
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith(greeting)
    assert "+++000/0000/00101+++" in body
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    year = invoice.issue_date.year
    assert sorted(attachments) == [f"invoice-{year}-0001.pdf", f"invoice-{year}-0001.xml"]
    pdf = attachments[f"invoice-{year}-0001.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF")
    ubl = attachments[f"invoice-{year}-0001.xml"].get_content()
    ubl = ubl.encode() if isinstance(ubl, str) else ubl
    assert peppol_validation.validate_schema(ubl) == []
    assert etree.fromstring(ubl).findtext("{*}ID") == invoice.number

    with session_scope(engine) as session:
        kinds = [entry.kind for entry in service.timeline(session, invoice.id)]
        sent = next(entry for entry in service.timeline(session, invoice.id) if entry.kind == "invoice_sent")
        stored = session.exec(select(Message)).all()
    assert kinds == ["issued", "send_requested", "invoice_sent"]
    assert sent.data == {"to": factories.CUSTOMERS[customer].email, "language": factories.CUSTOMERS[customer].language,
                         "transport": "smtp", "attachments": 2}
    assert len(stored) == 1


def test_credit_note_emailed_as_credit_note(engine, smtp):
    owner_id, invoice = issued_for(engine, "brasserie")
    credit_note = factories.credit(engine, owner_id, invoice.id)
    with session_scope(engine) as session:
        sending.request_send(session, owner_id, credit_note.id)

    jobs.run_due_jobs(engine)
    [message] = smtp.wait_for(1, timeout=10)

    assert message["Subject"].strip().startswith("Note de crédit")
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert names == [f"credit-note-{credit_note.number}.pdf", f"credit-note-{credit_note.number}.xml"]


def test_send_refused_for_draft_and_customer_without_email(engine):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")
    draft_id = factories.draft(engine, owner_id, customer_id, SAMPLE_LINES)
    with pytest.raises(errors.NothingToSend), session_scope(engine) as session:
        sending.request_send(session, owner_id, draft_id)

    # A customer reached on Peppol by enterprise number may have no e-mail address.
    without_email = factories.CUSTOMERS["bouw"].__class__(**{**factories.CUSTOMERS["bouw"].__dict__, "email": ""})
    with session_scope(engine) as session:
        customer_without_email = parties.save_customer(session, owner_id, without_email).id
    invoice = factories.issued(engine, owner_id, customer_without_email, SAMPLE_LINES)
    with pytest.raises(errors.CustomerHasNoEmail), session_scope(engine) as session:
        sending.request_send(session, owner_id, invoice.id)
    with session_scope(engine) as session:
        assert session.exec(select(Job)).all() == []


def test_no_access_point_configured(settings):
    assert sending.access_point(settings) is None

"""Payments recorded by hand: the amount due, the status, and the jobs a full payment cancels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.accounts.service import sign_up
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.invoicing import service as invoicing
from backend.invoicing.payment_state import InvalidPaymentAmount, NothingLeftToPay
from backend.notifications.call_jobs import schedule_call
from backend.notifications.models import Job, Message
from backend.notifications.service import queue_job
from backend.payments.service import record_manual_payment
from tests.collection.factories import make_invoice

DUE = date(2026, 6, 1)


@pytest.fixture
def engine_and_owner(database_url):
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        owner_id = sign_up(session, email="lien@example.be", name="Lien Verbeke", password="x" * 12).id
    return engine, owner_id


def _queue_email_and_call(engine, owner_id, invoice_id):
    with session_scope(engine) as session:
        queue_job(session, "email.collection_reminder", invoice_id=invoice_id, payload={"claim_id": 0})
        message = Message(owner_id=owner_id, invoice_id=invoice_id, channel="call", recipient="+3225550100",
                          language="fr", body_text="Bonjour", transport="local")
        session.add(message)
        session.flush()
        schedule_call(session, invoice_id, message.id, 1, datetime(2026, 12, 5, 20, tzinfo=UTC))


def _job_statuses(engine):
    with session_scope(engine, write_lock=False) as session:
        return sorted((job.kind, job.status) for job in session.exec(select(Job)))


def test_full_payment_cancels_email_and_call(engine_and_owner):
    engine, owner_id = engine_and_owner
    invoice_id = make_invoice(engine, owner_id, due=DUE)
    _queue_email_and_call(engine, owner_id, invoice_id)

    with session_scope(engine) as session:
        invoice = record_manual_payment(session, owner_id, invoice_id, None, DUE + timedelta(days=20))

    assert invoice.status == "paid"
    assert invoice.amount_due == Decimal("0.00")
    assert _job_statuses(engine) == [("call.place", "cancelled"), ("email.collection_reminder", "cancelled")]


def test_partial_payment_keeps_chasing_rest(engine_and_owner):
    engine, owner_id = engine_and_owner
    invoice_id = make_invoice(engine, owner_id, due=DUE)
    _queue_email_and_call(engine, owner_id, invoice_id)

    with session_scope(engine) as session:
        invoice = record_manual_payment(session, owner_id, invoice_id, Decimal("250.50"), DUE)

    assert invoice.status == "open"
    assert invoice.amount_due == Decimal("749.50")
    assert _job_statuses(engine) == [("call.place", "pending"), ("email.collection_reminder", "pending")]
    with session_scope(engine, write_lock=False) as session:
        entry = [entry for entry in invoicing.timeline(session, invoice_id) if entry.kind == "payment_recorded"][0]
    assert entry.data["amount"] == "250.50"
    assert entry.data["amount_due"] == "749.50"


@pytest.mark.parametrize("amount", ["0.00", "-5.00", "1000.01", "10.005"])
def test_invalid_amount_rejected(engine_and_owner, amount):
    engine, owner_id = engine_and_owner
    invoice_id = make_invoice(engine, owner_id, due=DUE)
    with session_scope(engine) as session, pytest.raises(InvalidPaymentAmount):
        record_manual_payment(session, owner_id, invoice_id, Decimal(amount), DUE)


def test_paid_invoice_cannot_be_paid_again(engine_and_owner):
    engine, owner_id = engine_and_owner
    invoice_id = make_invoice(engine, owner_id, due=DUE)
    with session_scope(engine) as session:
        record_manual_payment(session, owner_id, invoice_id, None, DUE)
    with session_scope(engine) as session, pytest.raises(NothingLeftToPay):
        record_manual_payment(session, owner_id, invoice_id, None, DUE)

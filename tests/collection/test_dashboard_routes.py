"""Collection pages over HTTP: dashboard, invoice timeline, payment, dispute link, ladder, batch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from backend.accounts.models import User
from backend.collection import daily_run, disputes
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.invoicing import service as invoicing
from backend.notifications.models import Job
from backend.web.app import create_app
from tests.collection.factories import make_invoice
from tests.invoicing.helpers import csrf_token, signed_up_client


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from tests.marketplace.factories import cheap_password_hashing

    cheap_password_hashing(monkeypatch)


@pytest.fixture
def client_and_owner(settings):
    client, token = signed_up_client(create_app(settings), "lien@example.be", language="fr")
    engine = core_db.get_engine(settings.database_url)
    with session_scope(engine, write_lock=False) as session:
        owner_id = session.exec(select(User.id).where(User.email == "lien@example.be")).one()
    return client, token, engine, owner_id


def test_dashboard_shows_buckets_steps_and_actions(client_and_owner):
    client, _token, engine, owner_id = client_and_owner
    today = today_brussels()
    first = make_invoice(engine, owner_id, number="2026-0001", due=today - timedelta(days=40), amount="1000.00")
    make_invoice(engine, owner_id, number="2026-0002", due=today - timedelta(days=5), amount="250.00")
    daily_run.run_day(engine, today, now=datetime.now(UTC))

    page = client.get("/collection").text
    assert "Recouvrement" in page
    assert "<svg" in page
    assert "31 à 60 jours" in page
    assert re.search(r"1\s000,00", page)
    assert "2026-0001" in page
    assert f'href="/collection/invoices/{first}"' in page
    assert "E-mail amical" in page


def test_manual_payment_stops_collection(client_and_owner):
    client, token, engine, owner_id = client_and_owner
    invoice_id = make_invoice(engine, owner_id, due=today_brussels() - timedelta(days=5))
    daily_run.run_day(engine, today_brussels(), now=datetime.now(UTC))

    response = client.post(f"/invoices/{invoice_id}/payments", data={"csrf_token": token, "amount": "400,00"},
                           follow_redirects=False)
    assert response.status_code == 303
    response = client.post(f"/invoices/{invoice_id}/payments", data={"csrf_token": token, "amount": ""},
                           follow_redirects=False)
    assert response.status_code == 303

    with session_scope(engine, write_lock=False) as session:
        invoice = invoicing.get_invoice(session, invoice_id)
        jobs = session.exec(select(Job).where(Job.invoice_id == invoice_id)).all()
        kinds = [entry.kind for entry in invoicing.timeline(session, invoice_id)]
    assert invoice.status == "paid"
    assert [job.status for job in jobs] == ["cancelled"]
    assert kinds.count("payment_recorded") == 2
    page = client.get(f"/collection/invoices/{invoice_id}").text
    assert "Paiement enregistré" in page


def test_payment_above_amount_due_rejected(client_and_owner):
    client, token, engine, owner_id = client_and_owner
    invoice_id = make_invoice(engine, owner_id, due=today_brussels() - timedelta(days=5))
    response = client.post(f"/api/invoices/{invoice_id}/payments", json={"amount": "1500.00"},
                           headers={"x-csrf-token": token})
    assert response.status_code == 422
    assert "1500.00" in response.json()["message"]


def test_debtor_disputes_through_signed_link(settings, client_and_owner):
    _client, _token, engine, owner_id = client_and_owner
    invoice_id = make_invoice(engine, owner_id, due=today_brussels() - timedelta(days=5), language="nl")
    from fastapi.testclient import TestClient

    debtor = TestClient(create_app(settings), headers={"accept": "text/html"})
    link = f"/debtor/{disputes.debtor_token(invoice_id)}"
    page = debtor.get(link).text
    assert "Ik betwist deze factuur" in page
    response = debtor.post(link, data={"csrf_token": csrf_token(page), "action": "dispute",
                                       "reason": "Het logo is nooit geleverd."}, follow_redirects=False)
    assert response.status_code == 303
    assert "Uw betwisting is geregistreerd" in debtor.get(link).text

    forged = debtor.get(f"/debtor/{disputes.debtor_token(invoice_id)[:-2]}xx")
    assert forged.status_code == 404
    with session_scope(engine, write_lock=False) as session:
        hold = disputes.active_hold(session, invoice_id)
    assert hold.kind == "dispute"
    assert hold.opened_by == "debtor"


def test_ladder_form_moves_and_disables_steps(client_and_owner):
    client, token, engine, owner_id = client_and_owner
    page = client.get("/collection/ladder").text
    assert "Scénario de relance" in page
    data = {"csrf_token": token, "delay_friendly_email": "5", "enabled_friendly_email": "on", "delay_letter": "10",
            "delay_formal_notice": "30", "enabled_formal_notice": "on", "delay_handoff": "60"}
    assert client.post("/collection/ladder", data=data, follow_redirects=False).status_code == 303

    from backend.collection.ladder import ladder_for

    with session_scope(engine, write_lock=False) as session:
        steps = [(step.step, step.delay_days, step.enabled) for step in ladder_for(session, owner_id)]
    assert steps == [("friendly_email", 5, True), ("letter", 10, False), ("formal_notice", 30, True),
                     ("handoff", 60, False)]


def test_print_batch_and_handoff_zip(client_and_owner):
    client, _token, engine, owner_id = client_and_owner
    today = today_brussels()
    invoice_id = make_invoice(engine, owner_id, due=today - timedelta(days=14))
    with session_scope(engine) as session:
        from backend.collection.ladder import StepSetting, save_ladder

        save_ladder(session, owner_id, [StepSetting("letter", 3)])
    daily_run.run_day(engine, today, now=datetime.now(UTC))

    batch = client.get(f"/collection/letters/batch.pdf?day={today.isoformat()}")
    assert batch.status_code == 200
    assert batch.content.startswith(b"%PDF")
    archive = client.get(f"/collection/invoices/{invoice_id}/handoff.zip")
    assert archive.status_code == 200
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert {"invoice.json", "timeline.json", "messages.json", "sticker_events.json"} <= set(names)
    assert any(re.match(r"letters/reminder-\d+\.pdf", name) for name in names)

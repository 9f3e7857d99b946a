"""Calls: allowed slots, the REST provider against a local fake service, signed callbacks, retries."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from backend.core.db import session_scope
from backend.core.settings import get_settings
from backend.invoicing import service as invoicing
from backend.notifications import call_jobs, telephony
from backend.notifications.call_models import CallAttempt
from backend.notifications.jobs import run_due_jobs
from backend.notifications.models import Job, Message
from backend.payments.service import record_manual_payment
from backend.web.app import create_app
from tests.collection.factories import make_invoice
from tests.conftest import free_port
from tests.support.servers import live_server, wait_until

START, END = 9, 18
SECRET = "shared-callback-secret"


def _brussels(year, month, day, hour, minute=0) -> datetime:
    from backend.core.time import BRUSSELS

    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


@pytest.fixture
def call_day_clock(monkeypatch):
    """Run the call handlers' clock from Wednesday 2 December 2026, 10:00 in Brussels.

    Calls start only on working days in calling hours, so with the real clock these tests
    would wait for Monday when run at a weekend or at night. The clock still advances.
    """
    started = datetime.now(UTC)
    wednesday = _brussels(2026, 12, 2, 10)
    monkeypatch.setattr(call_jobs, "utcnow", lambda: wednesday + (datetime.now(UTC) - started))
    return wednesday


@pytest.mark.parametrize(("moment", "expected"), [
    # Saturday 5 December 2026 -> Monday 7 December, 09:00.
    (_brussels(2026, 12, 5, 11), _brussels(2026, 12, 7, 9)),
    # Wednesday 11 November 2026, Armistice Day -> Thursday 12 November, 09:00.
    (_brussels(2026, 11, 11, 10), _brussels(2026, 11, 12, 9)),
    # Tuesday 8 December 2026 at 21:00 -> Wednesday 9 December, 09:00.
    (_brussels(2026, 12, 8, 21), _brussels(2026, 12, 9, 9)),
    # Before opening hours on a working day -> the same day at 09:00.
    (_brussels(2026, 12, 8, 7, 30), _brussels(2026, 12, 8, 9)),
    # Friday 24 December 2027 at 18:00 -> Christmas, the weekend -> Monday 27 December.
    (_brussels(2027, 12, 24, 18), _brussels(2027, 12, 27, 9)),
    # Within hours: unchanged.
    (_brussels(2026, 12, 8, 14, 5), _brussels(2026, 12, 8, 14, 5)),
])
def test_next_call_slot(moment, expected):
    assert telephony.next_call_slot(moment, START, END) == expected


def test_callback_signature_covers_url_and_sorted_params():
    params = {"status": "completed", "call_id": "CA1"}
    expected_data = "https://ikki.example/webhooks/telephony/status" + "call_idCA1" + "statuscompleted"
    import base64
    import hashlib
    import hmac

    digest = hmac.new(SECRET.encode(), expected_data.encode(), hashlib.sha256).digest()
    signature = telephony.callback_signature(SECRET, "https://ikki.example/webhooks/telephony/status", params)
    assert signature == base64.b64encode(digest).decode()
    assert telephony.verify_callback(SECRET, "https://ikki.example/webhooks/telephony/status", params, signature)
    assert not telephony.verify_callback(SECRET, "https://ikki.example/webhooks/telephony/status",
                                         {**params, "status": "busy"}, signature)


class FakeTelephonyService:
    """A cloud telephony API on 127.0.0.1. It checks each create-call request, then posts signed
    status callbacks to the URL it was given, with the outcomes taken from ``outcomes`` in turn."""

    def __init__(self, account: str, token: str, outcomes: list[str]) -> None:
        self.requests: list[dict] = []
        self.problems: list[str] = []
        self.outcomes = outcomes
        self.callbacks: list[httpx.Response] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != f"/v1/accounts/{account}/calls":
                    service.problems.append(f"path {self.path}")
                if self.headers.get("Authorization") != f"Bearer {token}":
                    service.problems.append("authorization")
                for field in ("to", "from", "tts", "status_callback", "client_reference"):
                    if field not in body:
                        service.problems.append(f"missing {field}")
                service.requests.append(body)
                call_id = f"CA{len(service.requests):04d}"
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": call_id, "status": "queued"}).encode())
                threading.Thread(target=service._call_back, args=(body["status_callback"], call_id)).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _call_back(self, url: str, call_id: str) -> None:
        outcome = self.outcomes.pop(0) if self.outcomes else "completed"
        for status in ("ringing", outcome):
            params = {"call_id": call_id, "status": status, "duration": "0"}
            signature = telephony.callback_signature(SECRET, url, params)
            self.callbacks.append(httpx.post(url, content=urlencode(params), timeout=10, headers={
                "Content-Type": "application/x-www-form-urlencoded", telephony.SIGNATURE_HEADER: signature}))


@pytest.fixture
def rest_settings(settings, monkeypatch):
    port = free_port()
    service = FakeTelephonyService("AC42", "token-42", outcomes=["no-answer", "completed"])
    service.thread.start()
    values = {"TELEPHONY_PROVIDER": "rest", "TELEPHONY_REST_BASE_URL": service.url,
              "TELEPHONY_REST_ACCOUNT": "AC42", "TELEPHONY_REST_TOKEN": "token-42",
              "TELEPHONY_CALLER_ID": "+3223000000", "TELEPHONY_WEBHOOK_SECRET": SECRET,
              "BASE_URL": f"http://127.0.0.1:{port}", "CALL_HOURS_START": "0", "CALL_HOURS_END": "24",
              "CALL_RETRY_DELAY_MINUTES": "1"}
    for name, value in values.items():
        monkeypatch.setenv(f"IKKI_{name}", value)
    get_settings.cache_clear()
    yield get_settings(), service, port
    service.server.shutdown()
    get_settings.cache_clear()


def _prepared_call(engine, owner_id) -> tuple[int, int]:
    invoice_id = make_invoice(engine, owner_id, due=date(2026, 6, 1), language="nl")
    with session_scope(engine) as session:
        message = Message(owner_id=owner_id, invoice_id=invoice_id, channel="call", recipient="+3225550100",
                          language="nl", body_text="Goedendag, dit is een automatische oproep.", transport="rest")
        session.add(message)
        session.flush()
        return invoice_id, message.id


def _owner(engine) -> int:
    from backend.accounts.service import sign_up

    with session_scope(engine) as session:
        return sign_up(session, email="lien@example.be", name="Lien Verbeke", password="x" * 12).id


def test_rest_provider_places_call_and_retries_no_answer(engine, rest_settings, call_day_clock):
    settings, service, port = rest_settings
    owner_id = _owner(engine)
    invoice_id, message_id = _prepared_call(engine, owner_id)
    with session_scope(engine) as session:
        call_jobs.schedule_call(session, invoice_id, message_id, 1, call_day_clock)

    with live_server(create_app(settings), port):
        run_due_jobs(engine)
        wait_until(lambda: len(service.callbacks) >= 2, 10, message="the first call's callbacks")
        with session_scope(engine) as session:
            for job in session.exec(select(Job).where(Job.kind == "call.place", Job.status == "pending")):
                job.run_after = datetime.now(UTC)
                session.add(job)
        run_due_jobs(engine)
        wait_until(lambda: len(service.callbacks) >= 4, 10, message="the second call's callbacks")

    assert service.problems == []
    assert [request["tts"]["language"] for request in service.requests] == ["nl-BE", "nl-BE"]
    assert service.requests[0]["to"] == "+3225550100"
    assert service.requests[0]["status_callback"] == f"http://127.0.0.1:{port}/webhooks/telephony/status"
    assert [response.status_code for response in service.callbacks] == [200, 200, 200, 200]
    with session_scope(engine, write_lock=False) as session:
        attempts = session.exec(select(CallAttempt).order_by(CallAttempt.id)).all()
        outcomes = [entry.data["outcome"] for entry in invoicing.timeline(session, invoice_id)
                    if entry.kind == "call_outcome"]
    assert [(attempt.attempt, attempt.status) for attempt in attempts] == [(1, "no-answer"), (2, "completed")]
    assert outcomes == ["no-answer", "completed"]


def test_callback_with_bad_signature_rejected(engine, rest_settings):
    settings, _service, port = rest_settings
    with live_server(create_app(settings), port) as server:
        response = httpx.post(f"{server.url}/webhooks/telephony/status", data={"call_id": "CA1", "status": "completed"},
                              headers={telephony.SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"})
    assert response.status_code == 403


def test_rest_provider_disabled_without_base_url(settings):
    assert settings.telephony_rest_base_url == ""
    with pytest.raises(telephony.TelephonyNotConfigured):
        telephony.RestTelephony(settings.model_copy(update={"telephony_provider": "rest"}))


def test_queued_call_cancelled_when_paid(engine, settings):
    owner_id = _owner(engine)
    invoice_id, message_id = _prepared_call(engine, owner_id)
    with session_scope(engine) as session:
        # Saturday evening: the call waits for Monday morning.
        call_jobs.schedule_call(session, invoice_id, message_id, 1, _brussels(2026, 12, 5, 20))
    with session_scope(engine) as session:
        record_manual_payment(session, owner_id, invoice_id, None, date(2026, 12, 5))

    with session_scope(engine, write_lock=False) as session:
        job = session.exec(select(Job).where(Job.kind == "call.place")).one()
        kinds = [entry.kind for entry in invoicing.timeline(session, invoice_id)]
    assert job.run_after == _brussels(2026, 12, 7, 9)
    assert job.status == "cancelled"
    assert "call_cancelled" in kinds


def test_local_provider_renders_and_records_outcome(engine, settings, call_day_clock):
    owner_id = _owner(engine)
    invoice_id, message_id = _prepared_call(engine, owner_id)
    with session_scope(engine) as session:
        call_jobs.schedule_call(session, invoice_id, message_id, 1, call_day_clock)
    run_due_jobs(engine)

    with session_scope(engine, write_lock=False) as session:
        attempt = session.exec(select(CallAttempt)).one()
        entries = {entry.kind: entry.data for entry in invoicing.timeline(session, invoice_id)}
    assert attempt.status == "rendered"
    assert entries["call_outcome"]["outcome"] == "rendered"

from __future__ import annotations

import pytest

from backend.web.app import create_app
from tests.invoicing.helpers import count_rows, sample_bytes, signed_up_client


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def freelancer(app):
    return signed_up_client(app, "lien@example.be")


@pytest.fixture
def invoice_id(freelancer) -> int:
    client, token = freelancer
    response = client.post("/api/invoices/import", files={"file": ("invoice.xml", sample_bytes(), "application/xml")},
                           headers={"x-csrf-token": token})
    assert response.status_code == 201
    return response.json()["id"]


def issue(client, token, invoice_id: int):
    return client.post(f"/invoices/{invoice_id}/letters", data={"csrf_token": token},
                       headers={"referer": f"http://testserver/invoices/{invoice_id}"}, follow_redirects=False)


def test_issue_letter_from_invoice_page(freelancer, invoice_id, engine):
    client, token = freelancer

    response = issue(client, token, invoice_id)

    assert response.status_code == 303
    assert response.headers["location"] == f"/invoices/{invoice_id}#letters"
    page = client.get(f"/invoices/{invoice_id}").text
    assert "Reminder letter 1 issued." in page
    assert 'href="/letters/1.pdf"' in page
    assert "Not opened yet" in page
    assert "Reminder letter issued" in page
    assert count_rows(engine)["reminder_letters"] == 1


def test_issue_letter_requires_csrf(freelancer, invoice_id, engine):
    client, _ = freelancer

    issue(client, "forged", invoice_id)

    assert count_rows(engine)["reminder_letters"] == 0


def test_letter_pdf_download(freelancer, invoice_id):
    client, token = freelancer
    issue(client, token, invoice_id)

    response = client.get("/letters/1.pdf")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="reminder-2026-0117-1.pdf"'
    assert response.content.startswith(b"%PDF")


def test_other_freelancer_cannot_see_or_issue(app, freelancer, invoice_id, engine):
    client, token = freelancer
    issue(client, token, invoice_id)
    intruder, intruder_token = signed_up_client(app, "intruder@example.be")

    assert intruder.get("/letters/1.pdf").status_code == 404
    assert intruder.get(f"/api/invoices/{invoice_id}/letters").status_code == 404
    response = intruder.post(f"/api/invoices/{invoice_id}/letters", headers={"x-csrf-token": intruder_token})
    assert response.status_code == 404
    assert count_rows(engine)["reminder_letters"] == 1


def test_letter_api(freelancer, invoice_id):
    client, token = freelancer

    created = client.post(f"/api/invoices/{invoice_id}/letters", headers={"x-csrf-token": token})

    assert created.status_code == 201
    body = created.json()
    assert body["invoice_id"] == invoice_id
    assert body["language"] == "fr"
    assert body["status"] == "issued"
    assert body["opened_at"] is None
    assert body["pdf_url"] == f"/letters/{body['id']}.pdf"
    assert client.get(f"/api/invoices/{invoice_id}/letters").json() == [body]


def test_unknown_letter_404(freelancer):
    client, _ = freelancer

    assert client.get("/letters/99.pdf").status_code == 404

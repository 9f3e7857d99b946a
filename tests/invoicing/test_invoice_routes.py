"""Invoice pages and the JSON API through FastAPI's TestClient, on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from backend.core.db import session_scope
from backend.invoicing import service
from backend.web.app import create_app
from tests.invoicing.helpers import (
    count_rows,
    sample_bytes,
    sample_tree,
    set_text,
    signed_up_client,
    to_bytes,
)

XML = "application/xml"


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def freelancer(app):
    return signed_up_client(app, "lien@example.be")


def upload(client, token, data: bytes, filename: str = "invoice.xml", path: str = "/invoices/import"):
    return client.post(
        path,
        data={"csrf_token": token},
        files={"file": (filename, data, XML)},
        headers={"referer": "http://testserver/invoices"},
        follow_redirects=False,
    )


def imported_invoice_id(client, token) -> int:
    """Import the sample and open its page, as the browser does after the redirect."""
    response = upload(client, token, sample_bytes())
    assert response.status_code == 303
    assert client.get(response.headers["location"]).status_code == 200
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_upload_imports_and_shows_invoice(freelancer, engine):
    client, token = freelancer

    response = upload(client, token, sample_bytes())

    assert response.status_code == 303
    assert response.headers["location"].startswith("/invoices/")
    assert count_rows(engine)["invoices"] == 1
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Invoice 2026-0117 imported." in page.text
    assert "Brasserie du Quai" in page.text
    assert "+++010/0002/60466+++" in page.text
    assert "BE56 3631 2345 6788" in page.text
    assert "Développement web, octobre 2026" in page.text


def test_upload_without_csrf_rejected(freelancer, engine):
    client, _ = freelancer

    response = upload(client, "forged", sample_bytes())

    assert response.status_code == 303
    assert count_rows(engine)["invoices"] == 0
    assert "The form expired" in client.get("/invoices").text


def test_upload_bad_file_flashes_error(freelancer, engine):
    client, token = freelancer
    data = to_bytes(set_text(sample_tree(), "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "3921.00"))

    response = upload(client, token, data, filename="broken.xml")

    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/invoices"
    page = client.get("/invoices").text
    assert "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount" in page
    assert "3921.00" in page
    assert count_rows(engine)["invoices"] == 0


def test_upload_error_translated(app, engine):
    client, token = signed_up_client(app, "jan@example.be", language="nl")

    upload(client, token, sample_bytes()[:200], filename="half.xml")

    page = client.get("/invoices").text
    assert "Het bestand half.xml is geen welgevormde XML" in page
    assert count_rows(engine)["invoices"] == 0


def test_upload_over_limit_rejected(app, settings, engine):
    client, token = signed_up_client(app, "big@example.be")
    data = sample_bytes() + b"<!--" + b"x" * settings.max_upload_bytes + b"-->"

    upload(client, token, data, filename="big.xml")

    page = client.get("/invoices").text
    assert f"over the limit of {settings.max_upload_bytes} bytes" in page
    assert count_rows(engine)["invoices"] == 0


def test_list_shows_amount_due_and_overdue(freelancer):
    client, token = freelancer
    imported_invoice_id(client, token)

    page = client.get("/invoices").text

    assert "2026-0117" in page
    assert "Brasserie du Quai" in page
    # en_BE writes euros with a decimal comma.
    assert "3.921,61" in page
    assert "Overdue" in page


@pytest.mark.parametrize(("language", "texts"), [
    ("fr", ["Facture 2026-0117", "Montant dû", "Lettres de rappel", "Historique", "Facture importée",
            "3\u202f921,61\xa0€", "Détail de la TVA"]),
    ("nl", ["Factuur 2026-0117", "Openstaand bedrag", "Herinneringsbrieven", "Tijdlijn",
            "Factuur geïmporteerd", "€\xa03.921,61", "Btw-overzicht"]),
    ("en", ["Invoice 2026-0117", "Amount due", "Reminder letters", "Timeline", "Invoice imported",
            "VAT breakdown"]),
])
def test_detail_page_in_each_language(app, language, texts):
    client, token = signed_up_client(app, f"{language}@example.be", language=language)
    invoice_id = imported_invoice_id(client, token)

    page = client.get(f"/invoices/{invoice_id}")

    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    for text in texts:
        assert text in page.text


def test_detail_page_timeline_in_brussels_time(freelancer, engine):
    client, token = freelancer
    invoice_id = imported_invoice_id(client, token)
    with session_scope(engine) as session:
        service.record_timeline(session, invoice_id, "letter_opened", at=datetime(2026, 11, 20, 8, 5, tzinfo=UTC),
                                letter_id=7)
        service.record_timeline(session, invoice_id, "firmware_rebooted", at=datetime(2026, 11, 21, tzinfo=UTC),
                                reason="watchdog")

    page = client.get(f"/invoices/{invoice_id}").text

    assert "Letter opened by the debtor" in page
    # 08:05 UTC is 09:05 in Brussels in November (CET).
    assert "9:05:00" in page
    assert "Letter: #7" in page
    assert "Firmware rebooted" in page
    assert "Reason: watchdog" in page


def test_detail_page_includes_sticker_section_spot(freelancer):
    client, token = freelancer
    invoice_id = imported_invoice_id(client, token)

    page = client.get(f"/invoices/{invoice_id}")

    assert page.status_code == 200
    assert 'id="letters"' in page.text


def test_change_debtor_language(freelancer):
    client, token = freelancer
    invoice_id = imported_invoice_id(client, token)

    response = client.post(f"/invoices/{invoice_id}/language", data={"csrf_token": token, "language": "nl"},
                           follow_redirects=False)

    assert response.status_code == 303
    page = client.get(f"/invoices/{invoice_id}").text
    assert "The debtor will now be written to and called in Dutch." in page
    assert '<option value="nl" selected>' in page
    assert "Chosen from your choice." in page


def test_change_debtor_language_requires_csrf(freelancer):
    client, token = freelancer
    invoice_id = imported_invoice_id(client, token)

    client.post(f"/invoices/{invoice_id}/language", data={"csrf_token": "forged", "language": "nl"})

    assert '<option value="fr" selected>' in client.get(f"/invoices/{invoice_id}").text


def test_other_freelancer_gets_404(app, freelancer):
    client, token = freelancer
    invoice_id = imported_invoice_id(client, token)
    intruder, intruder_token = signed_up_client(app, "intruder@example.be")

    assert intruder.get(f"/invoices/{invoice_id}").status_code == 404
    assert intruder.get(f"/api/invoices/{invoice_id}").status_code == 404
    response = intruder.post(f"/invoices/{invoice_id}/language",
                             data={"csrf_token": intruder_token, "language": "nl"}, follow_redirects=False)
    assert response.status_code == 303
    assert f"Invoice {invoice_id} was not found." in intruder.get("/invoices").text
    assert "2026-0117" not in intruder.get("/invoices").text
    assert intruder.get("/api/invoices").json() == []


def test_pages_require_login(app):
    anonymous = TestClient(app)

    assert anonymous.get("/invoices", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303
    assert anonymous.get("/api/invoices").status_code == 401


def test_api_import_list_and_detail(freelancer, engine):
    client, token = freelancer

    created = client.post("/api/invoices/import", files={"file": ("invoice.xml", sample_bytes(), XML)},
                          headers={"x-csrf-token": token, "accept": "application/json"})

    assert created.status_code == 201
    body = created.json()
    assert body["number"] == "2026-0117"
    assert body["payable_amount"] == "3921.61"
    assert body["amount_due"] == "3921.61"
    assert body["structured_communication"] == "+++010/0002/60466+++"
    assert body["customer"]["enterprise_number"] == "0799100252"
    assert [line["line_amount"] for line in body["lines"]] == ["3150.00", "91.00"]
    assert body["tax_subtotals"][0]["tax_amount"] == "680.61"
    assert body["timeline"][0]["kind"] == "imported"
    assert "owner_id" not in body

    listed = client.get("/api/invoices").json()
    assert [item["number"] for item in listed] == ["2026-0117"]
    assert listed[0]["debtor_name"] == "Brasserie du Quai"
    assert client.get(f"/api/invoices/{body['id']}").json()["id"] == body["id"]


def test_api_import_error_is_json(freelancer, engine):
    client, token = freelancer
    data = to_bytes(set_text(sample_tree(), "cac:PaymentMeans/cbc:PaymentID", "+++010/0002/60467+++"))

    response = client.post("/api/invoices/import", files={"file": ("invoice.xml", data, XML)},
                           headers={"x-csrf-token": token, "accept": "application/json"})

    assert response.status_code == 422
    assert response.json()["error"] == "InvalidStructuredCommunication"
    assert "+++010/0002/60467+++" in response.json()["message"]
    assert count_rows(engine)["invoices"] == 0


def test_api_duplicate_import_conflict(freelancer, engine):
    client, token = freelancer
    headers = {"x-csrf-token": token, "accept": "application/json"}
    client.post("/api/invoices/import", files={"file": ("invoice.xml", sample_bytes(), XML)}, headers=headers)

    response = client.post("/api/invoices/import", files={"file": ("invoice.xml", sample_bytes(), XML)},
                           headers=headers)

    assert response.status_code == 409
    assert "2026-0117" in response.json()["message"]
    assert count_rows(engine)["invoices"] == 1

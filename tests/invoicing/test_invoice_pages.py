"""Writing, issuing, crediting and sending invoices through the web pages, in fr, nl and en."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from backend.invoicing import peppol_validation
from backend.notifications import jobs
from backend.web.app import create_app
from tests.invoicing.factories import CUSTOMERS, FREELANCER
from tests.invoicing.helpers import signed_up_client

REFERER = {"referer": "http://testserver/invoices"}


@pytest.fixture
def app(settings):
    return create_app(settings)


def post(client, path: str, data: dict, token: str):
    return client.post(path, data={"csrf_token": token, **data}, headers=REFERER, follow_redirects=False)


def profile_form() -> dict:
    values = {name: str(value) for name, value in FREELANCER.__dict__.items() if name != "debtor_management"}
    return values


def customer_form(key: str) -> dict:
    return {name: str(value) for name, value in CUSTOMERS[key].__dict__.items()}


def draft_form(customer_id: str) -> dict:
    return {"customer_id": customer_id, "vat_scheme": "", "payment_terms_days": "30",
            "description": ["Développement web", "Livre", ""], "quantity": ["42", "2", ""],
            "unit_code": ["HUR", "C62", "HUR"], "unit_price": ["75", "18,40", ""], "vat_rate": ["21", "6", "21"]}


def write_draft(client, token, customer: str = "brasserie") -> str:
    assert post(client, "/invoicing/profile", profile_form(), token).status_code == 303
    response = post(client, "/customers", {**customer_form(customer), "then": "invoice"}, token)
    assert response.status_code == 303
    customer_id = re.search(r"customer_id=(\d+)", response.headers["location"]).group(1)
    response = post(client, "/invoices/drafts", draft_form(customer_id), token)
    assert response.status_code == 303
    return response.headers["location"]


@pytest.mark.parametrize(("language", "texts"), [
    ("fr", ["Brouillon de facture", "Émettre la facture", "Total à payer"]),
    ("nl", ["Conceptfactuur", "Factuur uitreiken", "Totaal te betalen"]),
    ("en", ["Invoice draft", "Issue the invoice", "Total to pay"]),
])
def test_draft_page_in_each_language(app, language, texts):
    client, token = signed_up_client(app, f"{language}@example.be", language)

    page = client.get(write_draft(client, token))

    assert page.status_code == 200
    for text in texts:
        assert text in page.text


def test_new_invoice_asks_for_business_details_first(app):
    client, _token = signed_up_client(app, "new@example.be")

    response = client.get("/invoices/new", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/invoicing/profile")


def test_issue_credit_send_and_download(app, engine):
    client, token = signed_up_client(app, "lien@example.be", "fr")
    location = write_draft(client, token)

    assert client.get(f"{location}.xml").status_code == 409
    assert post(client, f"{location}/issue", {}, token).status_code == 303
    page = client.get(location)
    assert re.search(r"Facture \d{4}-0001", page.text)
    assert "Télécharger la facture électronique (UBL)" in page.text

    pdf = client.get(f"{location}.pdf?download=1")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment; filename=\"invoice-")
    ubl = client.get(f"{location}.xml")
    assert ubl.status_code == 200
    assert peppol_validation.validate_schema(ubl.content) == []
    assert peppol_validation.check_rules(ubl.content) == []
    assert etree.fromstring(ubl.content).findtext("{*}ID").endswith("-0001")

    assert post(client, f"{location}/send", {}, token).status_code == 303
    assert jobs.run_due_jobs(engine) == 1
    assert "Envoyée au client par e-mail" in client.get(location).text

    response = post(client, f"{location}/credit", {}, token)
    assert response.status_code == 303
    credit_location = response.headers["location"].removesuffix("/edit")
    assert "Brouillon de note de crédit" in client.get(response.headers["location"]).text
    assert post(client, f"{credit_location}/issue", {}, token).status_code == 303
    assert "Note de crédit" in client.get(credit_location).text
    assert "Créditée" in client.get(location).text


def test_issued_invoice_cannot_be_edited_or_deleted(app):
    client, token = signed_up_client(app, "lien@example.be", "en")
    location = write_draft(client, token)
    post(client, f"{location}/issue", {}, token)

    edit = post(client, f"{location}/edit", draft_form("1"), token)
    delete = post(client, f"{location}/delete", {}, token)

    assert edit.status_code == delete.status_code == 303
    page = client.get("/invoices")
    assert "can no longer change" in page.text
    assert client.get(f"{location}/edit").status_code == 409


def test_draft_deleted(app):
    client, token = signed_up_client(app, "lien@example.be", "en")
    location = write_draft(client, token)

    assert post(client, f"{location}/delete", {}, token).status_code == 303

    assert client.get(location).status_code == 404


def test_other_freelancer_sees_nothing(app):
    owner, token = signed_up_client(app, "lien@example.be", "en")
    location = write_draft(owner, token)
    post(owner, f"{location}/issue", {}, token)
    other, other_token = signed_up_client(app, "other@example.be", "en")

    assert other.get(location).status_code == 404
    assert other.get(f"{location}.pdf").status_code == 404
    assert other.get(f"{location}.xml").status_code == 404
    assert post(other, f"{location}/credit", {}, other_token).status_code == 303
    assert other.get("/customers/1").status_code == 404


def test_invalid_line_reported_in_language(app):
    client, token = signed_up_client(app, "lien@example.be", "nl")
    post(client, "/invoicing/profile", profile_form(), token)
    post(client, "/customers", customer_form("bouw"), token)
    form = {**draft_form("1"), "quantity": ["veel", "2", ""]}

    response = post(client, "/invoices/drafts", form, token)

    assert response.status_code == 303
    page = client.get("/invoices")
    assert "Ongeldige hoeveelheid veel op regel 1" in page.text


def test_api_lists_drafts_and_credit_notes(app):
    client, token = signed_up_client(app, "lien@example.be", "en")
    location = write_draft(client, token)
    post(client, f"{location}/issue", {}, token)
    credit_location = post(client, f"{location}/credit", {}, token).headers["location"].removesuffix("/edit")

    listed = client.get("/api/invoices").json()
    credit_note = client.get(f"/api{credit_location}").json()

    assert sorted((item["document_type"], item["number"] is None) for item in listed) == [
        ("credit_note", True), ("invoice", False)]
    assert credit_note["billing_reference"].endswith("-0001")
    assert credit_note["amount_due"] == "0.00"

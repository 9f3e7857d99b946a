"""Helpers shared by the invoicing and collection tests: sample edits, row counts, a web client."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy.engine import Engine

from backend.collection.models import ReminderLetter
from backend.invoicing.models import (
    Invoice,
    InvoiceLine,
    InvoiceParty,
    InvoiceTaxSubtotal,
    TimelineEntry,
)
from tests.conftest import SAMPLE_INVOICE

NS = {
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
TABLES = (Invoice, InvoiceParty, InvoiceLine, InvoiceTaxSubtotal, TimelineEntry, ReminderLetter)
PASSWORD = "correct-horse-battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sample_bytes() -> bytes:
    return SAMPLE_INVOICE.read_bytes()


def sample_tree() -> etree._Element:
    return etree.fromstring(sample_bytes())


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def find(root: etree._Element, path: str) -> etree._Element:
    element = root.find(path, NS)
    assert element is not None, f"the sample has no {path}"
    return element


def set_text(root: etree._Element, path: str, value: str) -> etree._Element:
    find(root, path).text = value
    return root


def remove(root: etree._Element, path: str) -> etree._Element:
    element = find(root, path)
    element.getparent().remove(element)
    return root


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            model.__tablename__: connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in TABLES
        }


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "the page has no CSRF token"
    return match.group(1)


def signed_up_client(app, email: str, language: str = "en") -> tuple[TestClient, str]:
    """Return a client logged in as a new freelancer, and the session's CSRF token."""
    client = TestClient(app, headers={"accept-language": language, "accept": "text/html"})
    token = csrf_token(client.get("/signup").text)
    response = client.post(
        "/signup",
        data={"csrf_token": token, "email": email, "name": email.split("@")[0], "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    # Logging in starts a new session, with a new CSRF token.
    token = csrf_token(client.get("/invoices").text)
    return client, token

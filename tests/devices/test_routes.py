"""Sticker pages, the owner's JSON API and the factory API, through the FastAPI app."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from backend.core.db import session_scope
from backend.devices import service
from backend.devices.models import Device
from backend.web.app import create_app
from tests.devices.conftest import FACTORY_TOKEN, make_letter

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF_PATTERN.search(page.text).group(1)


def signed_up_client(email: str, language: str = "en") -> TestClient:
    client = TestClient(create_app(), headers={"accept-language": language, "accept": "text/html"})
    response = client.post("/signup", data={
        "email": email, "name": "Lien Verbeke", "password": "a-long-password",
        "csrf_token": csrf_from(client, "/signup"),
    }, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def user_id_of(engine, email: str) -> int:
    from sqlmodel import select

    from backend.accounts.models import User

    with session_scope(engine) as session:
        return session.exec(select(User).where(User.email == email)).one().id


@pytest.fixture
def web(sqlite_settings, engine):
    """A signed-up freelancer's browser and one unclaimed sticker."""
    client = signed_up_client("lien@example.be")
    with session_scope(engine) as session:
        device, _ = service.register_device(session, device_id="stk-web", claim_code="ACDE-FGHJ-KMNP-QRTU")
    return client, device


def test_claim_through_page(web, engine):
    client, _ = web

    response = client.post("/stickers/claim", data={
        "claim_code": "acde fghj kmnp qrtu", "csrf_token": csrf_from(client, "/stickers"),
    }, follow_redirects=False)
    page = client.get("/stickers")

    assert response.status_code == 303
    assert response.headers["location"] == "/stickers"
    assert "The sticker ACDE-FGHJ-KMNP-QRTU is now yours." in page.text
    assert 'data-device-id="stk-web"' in page.text
    assert "Not heard from yet" in page.text
    owner_id = user_id_of(engine, "lien@example.be")
    with session_scope(engine) as session:
        assert session.get(Device, "stk-web").owner_id == owner_id


def test_claim_errors_are_translated(sqlite_settings, web):
    client = signed_up_client("marie@example.be", language="fr-BE,fr;q=0.9")

    response = client.post("/stickers/claim", data={
        "claim_code": "ACDE-FGHJ-KMNP-QRTV", "csrf_token": csrf_from(client, "/stickers"),
    }, headers={"referer": "http://testserver/stickers"}, follow_redirects=True)

    assert "Aucun autocollant ne porte le code d’activation ACDE-FGHJ-KMNP-QRTV." in response.text
    assert "Vos autocollants" in response.text


def test_claim_needs_csrf_token(web):
    client, _ = web

    response = client.post("/stickers/claim", data={"claim_code": "ACDE-FGHJ-KMNP-QRTU"},
                           headers={"accept": "application/json"})
    page = client.get("/stickers")

    assert response.status_code == 403
    assert 'data-device-id="stk-web"' not in page.text


def test_stickers_page_needs_login(sqlite_settings):
    client = TestClient(create_app())

    response = client.get("/stickers", headers={"accept": "text/html"}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_api_claim_link_and_list(web, engine):
    client, device = web
    owner_id = user_id_of(engine, "lien@example.be")
    with session_scope(engine) as session:
        letter = make_letter(session, owner_id)
    token = csrf_from(client, "/stickers")

    claimed = client.post("/api/stickers/claim", json={"claim_code": device.claim_code},
                          headers={"x-csrf-token": token})
    linked = client.post(f"/api/stickers/{device.device_id}/link", json={"letter_id": letter.id},
                         headers={"x-csrf-token": token})
    listed = client.get("/api/stickers")
    detail = client.get(f"/api/stickers/{device.device_id}")

    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["letter_id"] is None
    assert linked.status_code == 200, linked.text
    assert linked.json()["letter_id"] == letter.id
    assert [sticker["device_id"] for sticker in listed.json()] == ["stk-web"]
    assert "key_encrypted" not in listed.json()[0]
    assert detail.json()["events"] == []


def test_api_hides_other_owners_sticker(web, engine):
    client, device = web
    with session_scope(engine) as session:
        stranger = signed_up_stranger(session)
        service.claim_device(session, stranger, device.claim_code)

    response = client.get(f"/api/stickers/{device.device_id}")

    assert response.status_code == 404
    assert response.json()["error"] == "StickerNotFound"


def signed_up_stranger(session) -> int:
    from backend.accounts.service import sign_up

    return sign_up(session, email="stranger@example.be", name="Stranger", password="a-long-password").id


def test_invoice_page_links_sticker_to_letter(web, engine):
    client, device = web
    owner_id = user_id_of(engine, "lien@example.be")
    with session_scope(engine) as session:
        service.claim_device(session, owner_id, device.claim_code)
        letter = make_letter(session, owner_id)
    invoice_path = f"/invoices/{letter.invoice_id}"

    before = client.get(invoice_path)
    response = client.post("/stickers/link", data={
        "device_id": device.device_id, "letter_id": str(letter.id), "next": f"{invoice_path}#stickers",
        "csrf_token": CSRF_PATTERN.search(before.text).group(1),
    }, follow_redirects=False)
    after = client.get(invoice_path)

    assert before.status_code == 200, before.text
    assert 'action="/stickers/link"' in before.text
    assert f'<option value="{device.device_id}">{device.claim_code}</option>' in before.text
    assert response.status_code == 303
    assert response.headers["location"] == f"{invoice_path}#stickers"
    assert f"The sticker {device.claim_code} is linked to letter #{letter.id}." in after.text
    assert 'action="/stickers/link"' not in after.text
    assert f"<code>{device.claim_code}</code>" in after.text


def test_link_form_refuses_offsite_next(web, engine):
    client, device = web
    owner_id = user_id_of(engine, "lien@example.be")
    with session_scope(engine) as session:
        service.claim_device(session, owner_id, device.claim_code)
        letter = make_letter(session, owner_id)

    response = client.post("/stickers/link", data={
        "device_id": device.device_id, "letter_id": str(letter.id), "next": "//evil.example/",
        "csrf_token": csrf_from(client, "/stickers"),
    }, follow_redirects=False)

    assert response.headers["location"] == "/stickers"


# Factory API


def factory_body(**changes) -> dict:
    body = {"device_id": "stk-factory-1", "key": bytes(range(32)).hex(), "hardware_revision": "B2",
            "firmware_version": "1.0.0"}
    body.update(changes)
    return body


def test_factory_registers_device(sqlite_settings, engine):
    client = TestClient(create_app())
    headers = {"authorization": f"Bearer {FACTORY_TOKEN}"}

    created = client.post("/api/factory/devices", json=factory_body(), headers=headers)
    again = client.post("/api/factory/devices", json=factory_body(), headers=headers)
    conflict = client.post("/api/factory/devices", json=factory_body(key="00" * 32), headers=headers)
    bad_key = client.post("/api/factory/devices", json=factory_body(device_id="stk-factory-2", key="xyz"),
                          headers=headers)

    assert created.status_code == 201, created.text
    assert created.json()["created"] is True
    assert created.json()["mqtt_username"] == "stk-factory-1"
    assert created.json()["events_topic"] == "ikki/v1/stickers/stk-factory-1/events"
    assert created.json()["mqtt_port"] == sqlite_settings.mqtt_port
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["claim_code"] == created.json()["claim_code"]
    assert conflict.status_code == 409
    assert bad_key.status_code == 422
    with session_scope(engine) as session:
        device = session.get(Device, "stk-factory-1")
        assert service.device_key(device) == bytes(range(32))
        assert device.hardware_revision == "B2"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {FACTORY_TOKEN}", "Bearer"])
def test_factory_rejects_missing_or_wrong_token(sqlite_settings, engine, authorization):
    client = TestClient(create_app())
    headers = {"authorization": authorization} if authorization else {}

    response = client.post("/api/factory/devices", json=factory_body(), headers=headers)

    assert response.status_code == 401
    with session_scope(engine) as session:
        assert session.get(Device, "stk-factory-1") is None


def test_factory_api_disabled_without_token(sqlite_settings, engine, monkeypatch):
    from backend.core.settings import get_settings

    monkeypatch.setenv("IKKI_FACTORY_TOKEN", "")
    get_settings.cache_clear()
    client = TestClient(create_app())

    response = client.post("/api/factory/devices", json=factory_body(), headers={"authorization": "Bearer "})

    assert response.status_code == 403
    assert response.json()["error"] == "FactoryApiDisabled"

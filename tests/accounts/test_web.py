from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.accounts.models import User
from backend.core.db import session_scope
from backend.web.app import create_app

HTML = {"accept": "text/html"}


@pytest.fixture
def client(settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1:8000")


def csrf_from(client: TestClient, path: str) -> str:
    page = client.get(path, headers=HTML)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_up(client: TestClient, email: str = "an@example.be", password: str = "long-enough-secret"):
    token = csrf_from(client, "/signup")
    return client.post("/signup", data={"csrf_token": token, "email": email, "name": "An Peeters",
                                        "password": password, "role": "freelancer"},
                       headers=HTML, follow_redirects=False)


def test_signup_stores_argon2_hash(client, engine):
    response = sign_up(client)

    assert response.status_code == 303
    with session_scope(engine, write_lock=False) as session:
        user = session.exec(select(User)).one()
    assert user.email == "an@example.be"
    assert user.password_hash.startswith("$argon2id$")
    assert "long-enough-secret" not in user.password_hash


def test_session_cookie_is_httponly_and_lax(client):
    response = sign_up(client)

    cookie = response.headers["set-cookie"]
    assert "ikki_session=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_post_without_csrf_token_is_rejected(client, engine):
    response = client.post("/signup", data={"email": "x@example.be", "name": "X", "password": "long-enough-secret"},
                           headers={"accept": "application/json"})

    assert response.status_code == 403
    with session_scope(engine, write_lock=False) as session:
        assert session.exec(select(User)).all() == []


def test_wrong_password_shows_translated_error(client):
    sign_up(client)
    client.cookies.clear()
    token = csrf_from(client, "/login")

    response = client.post("/login", data={"csrf_token": token, "email": "an@example.be", "password": "wrong-password"},
                           headers={**HTML, "accept-language": "nl-BE", "referer": "http://127.0.0.1:8000/login"})

    assert response.status_code == 200
    assert "Verkeerd e-mailadres of wachtwoord." in response.text


def test_login_then_logout(client):
    sign_up(client)
    client.cookies.clear()
    token = csrf_from(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": "AN@example.be ",
                                           "password": "long-enough-secret"}, headers=HTML, follow_redirects=False)
    assert response.status_code == 303

    token = csrf_from(client, "/outbox")
    client.post("/logout", data={"csrf_token": token}, headers=HTML)

    assert client.get("/outbox", headers=HTML, follow_redirects=False).status_code == 303


def test_language_follows_browser_then_user_choice(client, engine):
    page = client.get("/login", headers={**HTML, "accept-language": "nl-BE,nl;q=0.9,fr;q=0.5"})
    assert '<html lang="nl">' in page.text

    sign_up(client)
    token = csrf_from(client, "/outbox")
    client.post("/language", data={"csrf_token": token, "language": "en", "next": "/outbox"}, headers=HTML)

    with session_scope(engine, write_lock=False) as session:
        assert session.exec(select(User)).one().language == "en"
    page = client.get("/outbox", headers={**HTML, "accept-language": "fr-BE"})
    assert '<html lang="en">' in page.text


def test_duplicate_email_is_rejected(client):
    sign_up(client)
    client.cookies.clear()

    response = sign_up(client)

    assert response.status_code == 303
    page = client.get("/signup", headers={**HTML, "accept-language": "fr"})
    assert "Un compte existe déjà avec l’adresse e-mail an@example.be" in page.text


def test_overlong_name_is_rejected(settings, engine):
    from backend.accounts.service import sign_up as service_sign_up
    from backend.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="5000 characters"):
        with session_scope(engine) as session:
            service_sign_up(session, email="long@example.be", name="x" * 5000, password="long-enough-secret")

    with session_scope(engine, write_lock=False) as session:
        assert session.exec(select(User)).all() == []

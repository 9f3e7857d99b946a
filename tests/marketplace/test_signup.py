from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import select

from backend.accounts.models import User
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.marketplace import service
from backend.web.app import create_app

CLIENT_FORM = {"role": "client", "name": "Ann Claes", "email": "ann@schelde.example",
               "password": "correct-horse-battery", "company_name": "Schelde Data BV",
               "enterprise_number": "BE 0403.170.701", "street": "Kerkstraat 12", "postal_code": "2000",
               "city": "Antwerpen"}


def signup(client: TestClient, form: dict):
    page = client.get("/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/signup", data={**form, "csrf_token": token}, follow_redirects=False,
                       headers={"referer": "http://testserver/signup"})


def test_client_signs_up_with_company(settings):
    client = TestClient(create_app(settings), headers={"accept": "text/html"})
    response = signup(client, CLIENT_FORM)

    assert response.status_code == 303
    assert response.headers["location"] == "/missions"
    with session_scope(core_db.get_engine(settings.database_url)) as session:
        user = session.exec(select(User).where(User.email == "ann@schelde.example")).one()
        company = service.company_for_user(session, user.id)
        assert user.role == "client"
        assert (company.name, company.enterprise_number, company.postal_code) == \
            ("Schelde Data BV", "0403170701", "2000")
    assert "Schelde Data BV" in client.get("/missions").text


def test_invalid_enterprise_number_creates_nothing(settings):
    client = TestClient(create_app(settings), headers={"accept": "text/html"})
    response = signup(client, {**CLIENT_FORM, "enterprise_number": "0403.170.702"})

    assert response.status_code == 303
    assert response.headers["location"].endswith("/signup")
    assert "0403.170.702" in client.get("/signup").text
    with session_scope(core_db.get_engine(settings.database_url)) as session:
        assert session.exec(select(User)).all() == []


def test_freelancer_signup_unchanged(settings):
    client = TestClient(create_app(settings), headers={"accept": "text/html"})
    response = signup(client, {"name": "Lien Peeters", "email": "lien@example.be",
                               "password": "correct-horse-battery"})

    assert response.status_code == 303
    assert response.headers["location"] == "/invoices"
    with session_scope(core_db.get_engine(settings.database_url)) as session:
        user = session.exec(select(User)).one()
        assert user.role == "freelancer"
        assert service.company_for_user(session, user.id) is None


def test_unknown_role_refused(settings):
    client = TestClient(create_app(settings), headers={"accept": "text/html"})
    signup(client, {**CLIENT_FORM, "role": "admin"})
    with session_scope(core_db.get_engine(settings.database_url)) as session:
        assert session.exec(select(User)).all() == []

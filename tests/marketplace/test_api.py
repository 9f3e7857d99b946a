"""The JSON API: documented with a response model on every route, and usable end to end."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from pydantic import BaseModel

from backend.contracts import schemas as contracts_schemas
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.marketplace import schemas as marketplace_schemas
from backend.timesheets import schemas as timesheets_schemas
from backend.web.app import create_app
from tests.marketplace.factories import PASSWORD, make_client, make_freelancer
from tests.marketplace.test_permissions import our_routes

OUR_TAGS = {"marketplace", "contracts", "timesheets"}
OUR_SCHEMAS = {
    name for module in (marketplace_schemas, contracts_schemas, timesheets_schemas)
    for name, value in vars(module).items() if isinstance(value, type) and issubclass(value, BaseModel)
    and value is not BaseModel
}


def logged_in(app, email: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD}, follow_redirects=False)
    client.headers["x-csrf-token"] = client.get("/api/me").json()["csrf_token"]
    return client


def test_every_api_route_documents_its_response(settings):
    app = create_app(settings)
    schema = app.openapi()
    api_routes = [(method, path) for method, path in our_routes(app) if path.startswith("/api/")]
    assert len(api_routes) > 25
    for method, path in api_routes:
        operation = schema["paths"][path][method.lower()]
        assert OUR_TAGS & set(operation["tags"]), path
        success = next(response for code, response in operation["responses"].items() if code.startswith("2"))
        body = success["content"]["application/json"]["schema"]
        assert body != {}, f"{method} {path} has no response model"
    # An untyped field would show up as an empty schema or as a free-form object.
    ours = {name: component for name, component in schema["components"]["schemas"].items()
            if name in OUR_SCHEMAS}
    assert len(ours) == len(OUR_SCHEMAS)
    for name, component in ours.items():
        for field_name, field in component.get("properties", {}).items():
            assert field != {}, f"{name}.{field_name} is untyped"
        assert '"additionalProperties": true' not in json.dumps(component), name


def test_api_path_from_mission_to_invoice_draft(settings):
    start = today_brussels() + timedelta(days=14)
    start -= timedelta(days=start.weekday())
    with session_scope(core_db.get_engine(settings.database_url)) as session:
        make_client(session, "buyer@brabo.example", language="nl")
        make_freelancer(session, "lien@example.be", "Lien Peeters", rate="85.00", skills={"Python": 5},
                        available_from=start)
    app = create_app(settings)
    client, lien = logged_in(app, "buyer@brabo.example"), logged_in(app, "lien@example.be")

    created = client.post("/api/missions", json={
        "title": "Data platform", "work_mode": "onsite", "region": "BE-VAN", "start_date": start.isoformat(),
        "duration_weeks": 2, "hours_per_week": 38, "max_rate": "90.00", "languages": ["nl"],
        "skills": [{"name": "Python", "min_level": 4}]})
    assert created.status_code == 201, created.text
    mission_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert client.post(f"/api/missions/{mission_id}/status", json={"status": "published"}).json()["status"] == \
        "published"

    matches = client.get(f"/api/missions/{mission_id}/matches").json()
    assert [(match["name"], match["score"]) for match in matches] == [("Lien Peeters", 100.0)]
    assert matches[0]["reasons"][0]["text"] == "Python: niveau 5, minstens 4 gevraagd"

    fitting = lien.get("/api/missions/fitting").json()
    assert [item["mission"]["id"] for item in fitting] == [mission_id]
    applied = lien.post(f"/api/missions/{mission_id}/applications", json={"message": "Graag", "rate": "85.00"})
    assert applied.status_code == 201, applied.text
    application_id = applied.json()["id"]
    assert client.post(f"/api/applications/{application_id}/shortlist", json={"shortlisted": True}).json()[
        "status"] == "shortlisted"
    check = client.post(f"/api/applications/{application_id}/checks", json={
        "kind": "skill_test", "checked_with": "Internal test", "performed_on": today_brussels().isoformat(),
        "outcome": "positive", "skill_name": "Python", "score": 88})
    assert check.status_code == 201, check.text
    hired = client.post(f"/api/applications/{application_id}/hire").json()
    contract_id = hired["contract_id"]

    assert client.post(f"/api/contracts/{contract_id}/accept").json()["status"] == "awaiting_acceptance"
    signed = lien.post(f"/api/contracts/{contract_id}/accept").json()
    assert signed["status"] == "signed"
    assert [acceptance["party"] for acceptance in signed["acceptances"]] == ["client", "freelancer"]

    week = f"/api/timesheets/{contract_id}/{start.isoformat()}"
    saved = lien.put(week, json={"hours": {start.isoformat(): "8", (start + timedelta(days=1)).isoformat(): "7.5"}})
    assert saved.json()["total_hours"] == "15.50"
    assert lien.post(f"{week}/submit").json()["status"] == "submitted"
    assert client.post(f"{week}/approve", json={"comment": ""}).json()["status"] == "approved"

    [draft] = lien.get("/api/invoice-drafts").json()
    assert draft["total"] == "1317.50"
    assert draft["lines"][0]["unit_price"] == "85.00"
    assert client.get("/api/invoice-drafts").json() == []

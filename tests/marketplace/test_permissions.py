"""Every page and API route of the marketplace, contracts and timesheets, tried by every user
who must not use it. A visitor who is not logged in gets 401 or 403, a wrong user 403 or 404,
and a list page shows each user only their own missions, contracts and invoice drafts.

The routes come from the application itself, so a new route fails this test until it is
listed in ACCESS with the users allowed to use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.contracts import service as contracts
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import today_brussels
from backend.marketplace import applications, contacts, notices, service
from backend.marketplace.models import MissionSkill
from backend.timesheets import service as timesheets
from backend.web.app import create_app
from tests.marketplace.factories import PASSWORD, make_client, make_freelancer, make_mission

OUR_PACKAGES = ("backend.marketplace.", "backend.contracts.", "backend.timesheets.")
PERSONAS = ("anonymous", "client_a", "colleague_a", "client_b", "hired", "candidate", "outsider")
CLIENTS = {"client_a", "colleague_a", "client_b"}
FREELANCERS = {"hired", "candidate", "outsider"}
LOGGED_IN = CLIENTS | FREELANCERS
COMPANY_A = {"client_a", "colleague_a"}
CONTRACT_PARTIES = COMPANY_A | {"hired"}

FILLED_MISSION = "Marker mission Alpha"
DRAFT_MISSION = "Marker draft Beta"
HIRED_NAME = "Fenna Verhoeven"

# Who may use each route. A set of personas for routes about one object; "public" for pages
# anyone may read. For routes about the caller's own data, ``own`` names the roles allowed.
# ``leaks`` lists texts that only the given personas may find in the response.
ACCESS: dict[tuple[str, str], dict] = {
    ("GET", "/assets/marketplace.css"): {"public": True},
    ("GET", "/profile"): {"own": FREELANCERS},
    ("POST", "/profile"): {"own": FREELANCERS},
    ("POST", "/profile/skills"): {"own": {"hired", "candidate", "outsider"}},
    ("POST", "/profile/skills/{skill_id}/delete"): {"allowed": {"hired"}},
    ("POST", "/profile/experiences"): {"own": FREELANCERS},
    ("POST", "/profile/experiences/{experience_id}/delete"): {"allowed": {"hired"}},
    ("GET", "/freelancers/{slug}"): {"public": True},
    ("POST", "/freelancers/{slug}/experiences/{experience_id}/recommend"): {"allowed": {"client_a"}},
    ("GET", "/company"): {"own": CLIENTS},
    ("POST", "/company"): {"own": CLIENTS},
    ("POST", "/company/colleagues"): {"own": CLIENTS},
    ("GET", "/missions"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: COMPANY_A | {"hired", "candidate"},
                                                       DRAFT_MISSION: COMPANY_A}},
    ("GET", "/missions/new"): {"own": CLIENTS},
    ("POST", "/missions"): {"own": CLIENTS},
    ("GET", "/missions/{mission_id}"): {"allowed": COMPANY_A | {"hired", "candidate"}},
    ("GET", "/missions/{mission_id}/edit"): {"allowed": COMPANY_A},
    ("POST", "/missions/{mission_id}/edit"): {"allowed": COMPANY_A},
    ("POST", "/missions/{mission_id}/skills"): {"allowed": COMPANY_A},
    ("POST", "/missions/{mission_id}/skills/{skill_id}/delete"): {"allowed": COMPANY_A},
    ("POST", "/missions/{mission_id}/status"): {"allowed": COMPANY_A},
    ("GET", "/missions/{mission_id}/matches"): {"allowed": COMPANY_A},
    ("POST", "/missions/{mission_id}/invitations"): {"allowed": COMPANY_A},
    ("POST", "/missions/{mission_id}/applications"): {"allowed": {"hired", "candidate"}},
    ("GET", "/applications/{application_id}"): {"allowed": COMPANY_A | {"hired"}},
    ("POST", "/applications/{application_id}/shortlist"): {"allowed": COMPANY_A},
    ("POST", "/applications/{application_id}/reject"): {"allowed": COMPANY_A},
    ("POST", "/applications/{application_id}/checks"): {"allowed": COMPANY_A},
    ("POST", "/applications/{application_id}/hire"): {"allowed": COMPANY_A},
    ("POST", "/applications/{application_id}/decline"): {"allowed": {"hired"}},
    ("POST", "/applications/{application_id}/withdraw"): {"allowed": {"hired"}},
    ("GET", "/network"): {"own": LOGGED_IN, "leaks": {HIRED_NAME: {"client_a"}}},
    ("POST", "/network/requests"): {"own": LOGGED_IN},
    ("POST", "/network/{connection_id}/accept"): {"allowed": {"client_a", "hired"}},
    ("POST", "/network/{connection_id}/decline"): {"allowed": {"client_a", "hired"}},
    ("GET", "/network/{connection_id}"): {"allowed": {"client_a", "hired"}},
    ("POST", "/network/{connection_id}/messages"): {"allowed": {"client_a", "hired"}},
    ("GET", "/notifications"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: COMPANY_A | {"hired", "candidate"}}},
    ("POST", "/notifications/read"): {"own": LOGGED_IN},
    ("POST", "/notifications/{notice_id}/open"): {"allowed": {"hired"}},
    ("GET", "/api/me"): {"own": LOGGED_IN},
    ("GET", "/api/profile"): {"own": FREELANCERS},
    ("GET", "/api/freelancers/{slug}"): {"public": True},
    ("GET", "/api/missions"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: COMPANY_A, DRAFT_MISSION: COMPANY_A}},
    ("GET", "/api/missions/fitting"): {"own": FREELANCERS},
    ("POST", "/api/missions"): {"own": CLIENTS},
    ("GET", "/api/missions/{mission_id}"): {"allowed": COMPANY_A | {"hired", "candidate"}},
    ("POST", "/api/missions/{mission_id}/status"): {"allowed": COMPANY_A},
    ("GET", "/api/missions/{mission_id}/matches"): {"allowed": COMPANY_A},
    ("POST", "/api/missions/{mission_id}/invitations"): {"allowed": COMPANY_A},
    ("POST", "/api/missions/{mission_id}/applications"): {"allowed": {"hired", "candidate"}},
    ("GET", "/api/missions/{mission_id}/applications"): {"allowed": COMPANY_A},
    ("GET", "/api/applications/{application_id}"): {"allowed": COMPANY_A | {"hired"}},
    ("POST", "/api/applications/{application_id}/shortlist"): {"allowed": COMPANY_A},
    ("POST", "/api/applications/{application_id}/checks"): {"allowed": COMPANY_A},
    ("POST", "/api/applications/{application_id}/hire"): {"allowed": COMPANY_A},
    ("GET", "/api/notifications"): {"own": LOGGED_IN,
                                    "leaks": {FILLED_MISSION: COMPANY_A | {"hired", "candidate"}}},
    ("GET", "/api/network"): {"own": LOGGED_IN, "leaks": {HIRED_NAME: {"client_a"}}},
    ("GET", "/contracts"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: CONTRACT_PARTIES}},
    ("GET", "/contracts/{contract_id}"): {"allowed": CONTRACT_PARTIES},
    ("POST", "/contracts/{contract_id}/terms"): {"allowed": CONTRACT_PARTIES},
    ("POST", "/contracts/{contract_id}/accept"): {"allowed": CONTRACT_PARTIES},
    ("GET", "/contracts/{contract_id}/pdf"): {"allowed": CONTRACT_PARTIES},
    ("GET", "/api/contracts"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: CONTRACT_PARTIES}},
    ("GET", "/api/contracts/{contract_id}"): {"allowed": CONTRACT_PARTIES},
    ("POST", "/api/contracts/{contract_id}/accept"): {"allowed": CONTRACT_PARTIES},
    ("GET", "/timesheets"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: CONTRACT_PARTIES}},
    ("GET", "/timesheets/{contract_id}/{week_start}"): {"allowed": CONTRACT_PARTIES},
    ("POST", "/timesheets/{contract_id}/{week_start}"): {"allowed": {"hired"}},
    ("POST", "/timesheets/{contract_id}/{week_start}/approve"): {"allowed": COMPANY_A},
    ("POST", "/timesheets/{contract_id}/{week_start}/reject"): {"allowed": COMPANY_A},
    ("GET", "/invoice-drafts"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: {"hired"}}},
    ("GET", "/invoice-drafts/{draft_id}"): {"allowed": {"hired"}},
    ("GET", "/api/timesheets/{contract_id}/{week_start}"): {"allowed": CONTRACT_PARTIES},
    ("PUT", "/api/timesheets/{contract_id}/{week_start}"): {"allowed": {"hired"}},
    ("POST", "/api/timesheets/{contract_id}/{week_start}/submit"): {"allowed": {"hired"}},
    ("POST", "/api/timesheets/{contract_id}/{week_start}/approve"): {"allowed": COMPANY_A},
    ("POST", "/api/timesheets/{contract_id}/{week_start}/reject"): {"allowed": COMPANY_A},
    ("GET", "/api/invoice-drafts"): {"own": LOGGED_IN, "leaks": {FILLED_MISSION: {"hired"}}},
}


@dataclass
class World:
    ids: dict[str, object]
    start: date


def build_world(engine) -> World:
    """Company A hired "hired" for the filled mission over "candidate"; the contract is signed,
    one week approved into an invoice draft. Company B and "outsider" have nothing to do with it."""
    start = today_brussels() + timedelta(days=14)
    start -= timedelta(days=start.weekday())
    with session_scope(engine) as session:
        client_a = make_client(session, "a@alpha.example", company="Alpha Consult BV")
        colleague = service.add_colleague(session, service.company_for_user(session, client_a.id),
                                          name="Colleague of A", email="colleague@alpha.example",
                                          password=PASSWORD, language="en")
        make_client(session, "b@beta.example", company="Beta Systems NV")
        hired, hired_profile = make_freelancer(session, "hired@example.be", HIRED_NAME, skills={"Python": 5},
                                               available_from=start)
        candidate, candidate_profile = make_freelancer(session, "candidate@example.be", "Candidate Dupont",
                                                       skills={"Python": 4}, available_from=start)
        _, outsider_profile = make_freelancer(session, "outsider@example.be", "Outsider Claes",
                                              skills={"Figma": 4}, available_from=start)
        mission = make_mission(session, client_a, title=FILLED_MISSION, start=start, weeks=4, hours=38)
        make_mission(session, client_a, title=DRAFT_MISSION, start=start, publish=False)

        hired_application = applications.apply(session, hired, mission.id, message="Hello", rate=Decimal("80.00"))
        applications.apply(session, candidate, mission.id, message="Hi", rate=Decimal("75.00"))
        applications.set_shortlisted(session, client_a, hired_application.id, True)
        contract = applications.hire(session, client_a, hired_application.id)
        contracts.accept(session, client_a, contract.id, ip_address="127.0.0.1")
        contracts.accept(session, hired, contract.id, ip_address="127.0.0.1")
        timesheets.save_hours(session, hired, contract.id, start, {start: Decimal("8.00")})
        timesheets.submit_week(session, hired, contract.id, start)
        timesheets.approve_week(session, client_a, contract.id, start)
        draft = timesheets.invoice_drafts_for_user(session, hired)[0].draft

        connection = contacts.request_connection(session, hired, client_a.id)
        contacts.answer_request(session, client_a, connection.id, accept=True)
        experience = service.add_experience(session, hired_profile, title="Data engineer", organisation="Polder NV",
                                            start_date=date(2020, 1, 1), end_date=None, description="")
        skill = service.profile_skills(session, hired_profile.id)[0]
        mission_skill = session.exec(select(MissionSkill).where(MissionSkill.mission_id == mission.id)).first()
        notice = notices.notices_for_user(session, hired.id)[0]
        ids = {
            "mission_id": mission.id, "application_id": hired_application.id, "contract_id": contract.id,
            "week_start": start.isoformat(), "draft_id": draft.id, "connection_id": connection.id,
            "notice_id": notice.id, "experience_id": experience.id, "slug": hired_profile.slug,
            "profile_skill_id": skill.id, "mission_skill_id": mission_skill.id,
            "outsider_profile_id": outsider_profile.id, "outsider_slug": outsider_profile.slug,
            "colleague_id": colleague.id, "candidate_profile_id": candidate_profile.id,
        }
    return World(ids, start)


def form_for(path: str, world: World) -> dict:
    """A valid form or JSON body for the route, so that only the permission check can refuse it."""
    start = world.start.isoformat()
    mission_form = {"title": "Changed", "work_mode": "onsite", "region": "BE-VAN", "start_date": start,
                    "duration_weeks": "4", "hours_per_week": "38", "rate_kind": "max_rate", "amount": "90",
                    "languages": ["nl"]}
    forms = {
        "/profile": {"name": "X", "hourly_rate": "80", "available_from": start, "hours_per_week": "40",
                     "region": "BE-VAN", "languages": ["nl"]},
        "/profile/skills": {"name": "Rust", "level": "3"},
        "/profile/experiences": {"title": "Role", "organisation": "Org", "start_date": "2020-01-01"},
        "/freelancers/{slug}/experiences/{experience_id}/recommend": {"text": "Great work."},
        "/company": {"name": "Co", "enterprise_number": "0403170701", "street": "Straat 1", "postal_code": "2000",
                     "city": "Antwerpen"},
        "/company/colleagues": {"name": "New", "email": "new@example.be", "password": PASSWORD},
        "/missions": {**mission_form, "skill_name": ["Python"], "skill_level": ["3"], "skill_kind": ["required"]},
        "/missions/{mission_id}/edit": mission_form,
        "/missions/{mission_id}/skills": {"name": "Rust", "min_level": "3", "kind": "required"},
        "/missions/{mission_id}/status": {"target": "closed"},
        "/missions/{mission_id}/invitations": {"profile_id": str(world.ids["outsider_profile_id"])},
        "/missions/{mission_id}/applications": {"message": "Me too", "rate": "80"},
        "/applications/{application_id}/shortlist": {"shortlisted": "false"},
        "/applications/{application_id}/checks": {"kind": "reference", "checked_with": "Someone",
                                                  "performed_on": "2020-01-01", "outcome": "positive"},
        "/network/requests": {"user_id": str(world.ids["colleague_id"])},
        "/network/{connection_id}/messages": {"body": "Hello"},
        "/contracts/{contract_id}/terms": {"language": "fr", "payment_terms_days": "15", "start_date": start,
                                           "end_date": start},
        "/timesheets/{contract_id}/{week_start}": {"hours": ["1"] * 7},
        "/timesheets/{contract_id}/{week_start}/approve": {"comment": ""},
        "/timesheets/{contract_id}/{week_start}/reject": {"comment": "No"},
        "/api/missions": {"title": "API", "work_mode": "remote", "start_date": start, "duration_weeks": 4,
                          "hours_per_week": 38, "languages": ["nl"],
                          "skills": [{"name": "Python", "min_level": 3}]},
        "/api/missions/{mission_id}/status": {"status": "closed"},
        "/api/missions/{mission_id}/invitations": {"profile_slug": world.ids["outsider_slug"]},
        "/api/missions/{mission_id}/applications": {"message": "Me too", "rate": "80"},
        "/api/applications/{application_id}/shortlist": {"shortlisted": False},
        "/api/applications/{application_id}/checks": {"kind": "reference", "checked_with": "Someone",
                                                      "performed_on": "2020-01-01", "outcome": "positive"},
        "/api/timesheets/{contract_id}/{week_start}": {"hours": {start: "1"}},
        "/api/timesheets/{contract_id}/{week_start}/approve": {"comment": ""},
        "/api/timesheets/{contract_id}/{week_start}/reject": {"comment": "No"},
    }
    return forms.get(path, {})


def concrete_path(template: str, world: World) -> str:
    values = dict(world.ids)
    # Two routes call their skill "skill_id": the freelancer's and the mission's.
    values["skill_id"] = values["mission_skill_id"] if template.startswith("/missions/") \
        else values["profile_skill_id"]
    return re.sub(r"\{(\w+)\}", lambda match: str(values[match.group(1)]), template)


def our_routes(app) -> list[tuple[str, str]]:
    """Return (method, path) of every route whose endpoint is in our packages, as the app serves it."""
    found = []
    for route in routing.iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.endpoint.__module__.startswith(OUR_PACKAGES):
            found += [(method, route.path) for method in sorted(route.methods)]
    return found


@pytest.fixture
def app_and_world(settings):
    world = build_world(core_db.get_engine(settings.database_url))
    return create_app(settings), world


def browser_for(app, persona: str) -> TestClient:
    client = TestClient(app)
    client.headers["accept"] = "application/json"
    if persona == "anonymous":
        return client
    email = {"client_a": "a@alpha.example", "colleague_a": "colleague@alpha.example", "client_b": "b@beta.example",
             "hired": "hired@example.be", "candidate": "candidate@example.be",
             "outsider": "outsider@example.be"}[persona]
    page = client.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    client.headers["x-csrf-token"] = client.get("/api/me").json()["csrf_token"]
    return client


def test_every_route_is_listed(settings):
    routes = set(our_routes(create_app(settings)))
    assert sorted(routes - set(ACCESS)) == [], "add the new routes to ACCESS with the users allowed to use them"
    assert sorted(set(ACCESS) - routes) == []


def test_wrong_users_are_refused_everywhere(app_and_world):
    app, world = app_and_world
    browsers = {persona: browser_for(app, persona) for persona in PERSONAS}
    checked = 0
    for method, template in our_routes(app):
        rule = ACCESS[(method, template)]
        path = concrete_path(template, world)
        body = form_for(template, world)
        is_api = template.startswith("/api/")
        for persona in PERSONAS:
            if rule.get("public"):
                break
            allowed = rule.get("allowed") or rule.get("own") or set()
            if persona in allowed and method != "GET":
                continue
            request = {}
            if body:
                request = {"json": body} if is_api else {"data": body}
            response = browsers[persona].request(method, path, follow_redirects=False, **request)
            where = f"{method} {path} as {persona}"
            if persona == "anonymous":
                # A POST without a session fails its CSRF check (403) before the login check (401).
                assert response.status_code in (401, 403), where
            elif persona not in allowed:
                assert response.status_code in (403, 404), f"{where}: {response.status_code} {response.text[:200]}"
            else:
                assert response.status_code == 200, f"{where}: {response.status_code} {response.text[:300]}"
                for marker, may_see in rule.get("leaks", {}).items():
                    if persona not in may_see:
                        assert marker not in response.text, f"{where} shows {marker!r}"
            checked += 1
    assert checked > 300


def test_public_routes_serve_anyone(app_and_world):
    app, world = app_and_world
    anonymous = browser_for(app, "anonymous")
    for method, template in our_routes(app):
        if ACCESS[(method, template)].get("public"):
            response = anonymous.request(method, concrete_path(template, world))
            assert response.status_code == 200, template


def test_owners_see_their_own_objects(app_and_world):
    """The leak checks above can only fail if the markers appear somewhere: they do, for the owners."""
    app, _ = app_and_world
    client_a, hired = browser_for(app, "client_a"), browser_for(app, "hired")
    client_a.headers["accept"] = hired.headers["accept"] = "text/html"
    assert DRAFT_MISSION in client_a.get("/missions").text
    assert FILLED_MISSION in client_a.get("/contracts").text
    assert FILLED_MISSION in hired.get("/invoice-drafts").text
    assert HIRED_NAME in client_a.get("/network").text

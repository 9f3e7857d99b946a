from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.errors import InvalidInput
from backend.marketplace import missions
from backend.marketplace.errors import (
    ClientsOnly,
    MissionNotEditable,
    MissionNotFound,
    MissionTransitionNotAllowed,
)
from tests.marketplace.factories import make_client, make_freelancer, make_mission

EVERY_STATUS = ("draft", "published", "paused", "filled", "closed")
ALLOWED = {("draft", "published"), ("draft", "closed"), ("published", "paused"), ("published", "filled"),
           ("published", "closed"), ("paused", "published"), ("paused", "closed"), ("filled", "closed")}


def mission_in_status(session, client, status):
    mission = make_mission(session, client, title=f"In {status}", publish=False)
    path = {"draft": [], "published": ["published"], "paused": ["published", "paused"],
            "filled": ["published", "filled"], "closed": ["closed"]}[status]
    for step in path:
        missions.change_status(session, client, mission.id, step)
    return mission


@pytest.mark.parametrize("current", EVERY_STATUS)
def test_only_allowed_transitions(sqlite_url, current):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        for target in EVERY_STATUS:
            mission = mission_in_status(session, client, current)
            if (current, target) in ALLOWED:
                assert missions.change_status(session, client, mission.id, target).status == target
            else:
                with pytest.raises(MissionTransitionNotAllowed):
                    missions.change_status(session, client, mission.id, target)


def test_transition_error_names_statuses_in_reader_language(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        mission = mission_in_status(session, client, "closed")
        with pytest.raises(MissionTransitionNotAllowed) as caught:
            missions.change_status(session, client, mission.id, "published")
    assert str(caught.value) == "The mission is “Closed”, so it cannot change to “Published”."
    from backend.web.i18n import gettext_for

    assert caught.value.render(gettext_for("fr")) == \
        "La mission est «\xa0Clôturée\xa0»\xa0: elle ne peut pas passer à «\xa0Publiée\xa0»."


def test_publishing_needs_a_required_skill_and_a_language(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        no_skill = make_mission(session, client, skills=(("SQL", 2, False),), publish=False)
        with pytest.raises(InvalidInput):
            missions.change_status(session, client, no_skill.id, "published")
        no_language = make_mission(session, client, languages=(), publish=False)
        with pytest.raises(InvalidInput):
            missions.change_status(session, client, no_language.id, "published")


def test_filled_mission_cannot_be_edited(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        mission = mission_in_status(session, client, "filled")
        with pytest.raises(MissionNotEditable):
            missions.set_mission_skill(session, client, mission.id, missions.SkillRequirement("Go", 3))


def test_input_checks(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        with pytest.raises(InvalidInput, match="either"):
            make_mission(session, client, max_rate="80.00", budget="10000.00")
        with pytest.raises(InvalidInput, match="in the past"):
            make_mission(session, client, start=date.today() - timedelta(days=3))
        with pytest.raises(InvalidInput, match="where the mission takes place"):
            make_mission(session, client, region=None, work_mode="hybrid")
        remote = make_mission(session, client, region=None, work_mode="remote")
        assert remote.region is None
        with pytest.raises(InvalidInput, match="listed twice"):
            make_mission(session, client, skills=(("Python", 3, True), ("python ", 2, False)))


def test_visibility_of_missions(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        other = make_client(session, "other@company.example", company="Other NV")
        freelancer, _ = make_freelancer(session, "lien@example.be", "Lien", skills={"Python": 5})
        draft = make_mission(session, client, publish=False)
        published = make_mission(session, client)

        assert missions.get_visible_mission(session, freelancer, published.id) == published
        for user, mission_id in ((freelancer, draft.id), (other, draft.id), (other, published.id)):
            with pytest.raises(MissionNotFound):
                missions.get_visible_mission(session, user, mission_id)
        with pytest.raises(ClientsOnly):
            missions.create_mission(session, freelancer, missions.MissionInput(
                title="X", description="", work_mode="remote", region=None, start_date=date(2030, 1, 7),
                duration_weeks=1, hours_per_week=8, max_rate=Decimal("50.00")))

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.errors import InvalidInput
from backend.marketplace import applications, missions
from backend.marketplace.errors import (
    AlreadyApplied,
    ApplicationTransitionNotAllowed,
    MissionNotFound,
    MissionNotOpen,
)
from tests.marketplace.factories import make_client, make_freelancer, make_mission


def scenario(session):
    client = make_client(session, "buyer@brabo.example")
    lien, lien_profile = make_freelancer(session, "lien@example.be", "Lien", skills={"Python": 5})
    thomas, thomas_profile = make_freelancer(session, "thomas@example.be", "Thomas", skills={"Python": 4})
    mission = make_mission(session, client)
    return client, (lien, lien_profile), (thomas, thomas_profile), mission


def test_invited_freelancer_applies_and_is_hired(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, (lien, lien_profile), (_, thomas_profile), mission = scenario(session)
        invitation = applications.invite(session, client, mission.id, lien_profile.id, "Interested?")
        applications.invite(session, client, mission.id, thomas_profile.id)
        applied = applications.apply(session, lien, mission.id, message="Yes", rate=Decimal("82.50"))
        assert applied.id == invitation.id
        assert applied.status == "applied"

        with pytest.raises(ApplicationTransitionNotAllowed):
            applications.hire(session, client, applied.id)
        applications.set_shortlisted(session, client, applied.id, True)
        contract = applications.hire(session, client, applied.id)

        assert contract.hourly_rate == Decimal("82.50")
        assert mission.status == "filled"
        statuses = {candidate.profile.name: candidate.application.status
                    for candidate in applications.candidates(session, mission.id)}
        assert statuses == {"Lien": "accepted", "Thomas": "rejected"}


def test_checks_record_who_when_outcome(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, (lien, _), _, mission = scenario(session)
        application = applications.apply(session, lien, mission.id, message="Yes", rate=Decimal("80.00"))
        applications.record_check(session, client, application.id, applications.CheckInput(
            kind="reference", checked_with="Koen Jacobs", performed_on=date(2026, 1, 5), outcome="positive",
            notes="Reliable"))
        applications.record_check(session, client, application.id, applications.CheckInput(
            kind="skill_test", checked_with="Internal test", performed_on=date(2026, 1, 6), outcome="mixed",
            skill_name="Python", score=72))

        checks = applications.checks_by_application(session, [application.id])[application.id]
        assert [(check.kind, check.checked_with, check.performed_on, check.outcome, check.score)
                for check in checks] == [
            ("reference", "Koen Jacobs", date(2026, 1, 5), "positive", None),
            ("skill_test", "Internal test", date(2026, 1, 6), "mixed", 72)]
        assert checks[0].recorded_by == client.id

        with pytest.raises(InvalidInput):
            applications.record_check(session, client, application.id, applications.CheckInput(
                kind="skill_test", checked_with="X", performed_on=date.today() + timedelta(days=3),
                outcome="positive", skill_name="Python"))
        with pytest.raises(InvalidInput):
            applications.record_check(session, client, application.id, applications.CheckInput(
                kind="skill_test", checked_with="X", performed_on=date(2026, 1, 6), outcome="positive",
                skill_name="Python", score=101))


def test_apply_twice_and_closed_missions_refused(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, (lien, _), (thomas, _), mission = scenario(session)
        applications.apply(session, lien, mission.id, message="Yes", rate=Decimal("80.00"))
        with pytest.raises(AlreadyApplied):
            applications.apply(session, lien, mission.id, message="Again", rate=Decimal("80.00"))

        missions.change_status(session, client, mission.id, "paused")
        with pytest.raises(MissionNotFound):
            applications.apply(session, thomas, mission.id, message="Late", rate=Decimal("80.00"))
        with pytest.raises(MissionNotOpen):
            applications.apply(session, lien, mission.id, message="Again", rate=Decimal("80.00"))


def test_freelancer_declines_and_withdraws(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, (lien, lien_profile), (thomas, _), mission = scenario(session)
        invitation = applications.invite(session, client, mission.id, lien_profile.id)
        assert applications.decline_invitation(session, lien, invitation.id).status == "declined"
        with pytest.raises(ApplicationTransitionNotAllowed):
            applications.withdraw(session, lien, invitation.id)
        with pytest.raises(AlreadyApplied):
            applications.apply(session, lien, mission.id, message="Changed my mind", rate=Decimal("80.00"))
        application = applications.apply(session, thomas, mission.id, message="Yes", rate=Decimal("70.00"))
        assert applications.withdraw(session, thomas, application.id).status == "withdrawn"


def test_shortlist_toggles(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, (lien, _), _, mission = scenario(session)
        application = applications.apply(session, lien, mission.id, message="Yes", rate=Decimal("80.00"))
        applications.set_shortlisted(session, client, application.id, True)
        assert application.shortlisted_at is not None
        applications.set_shortlisted(session, client, application.id, False)
        assert (application.status, application.shortlisted_at) == ("applied", None)
        with pytest.raises(ApplicationTransitionNotAllowed):
            applications.set_shortlisted(session, client, application.id, False)

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.settings import get_settings
from backend.marketplace import applications, notices
from backend.marketplace.models import Notice
from backend.notifications import jobs
from backend.notifications.models import Job
from tests.conftest import free_port
from tests.marketplace.factories import make_client, make_freelancer, make_mission
from tests.support.servers import SmtpSink


@pytest.fixture
def smtp(settings, monkeypatch):
    sink = SmtpSink(free_port())
    sink.start()
    monkeypatch.setenv("IKKI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IKKI_SMTP_PORT", str(sink.port))
    get_settings.cache_clear()
    yield sink
    sink.stop()
    get_settings.cache_clear()


def test_invitation_and_application_emailed_in_each_language(settings, smtp):
    engine = core_db.get_engine(settings.database_url)
    with session_scope(engine) as session:
        client = make_client(session, "buyer@brabo.example", language="nl")
        thomas, thomas_profile = make_freelancer(session, "thomas@example.be", "Thomas Dubois",
                                                 skills={"Figma": 4}, language="fr")
        mission = make_mission(session, client, title="Refonte du site", skills=(("Figma", 3, True),))
        # Publishing notified Thomas that the mission fits him; the invitation comes next.
        application = applications.invite(session, client, mission.id, thomas_profile.id, "Bonjour Thomas")
        applications.apply(session, thomas, mission.id, message="Avec plaisir", rate=Decimal("75.00"))
        application_id = application.id

    assert jobs.run_due_jobs(engine) == 3
    received = smtp.wait_for(3, timeout=10)

    by_recipient = {}
    for message in received:
        by_recipient.setdefault(message["To"], []).append(message)
    # Python's parser keeps the space of a folded Subject line, so compare stripped subjects.
    french = sorted(message["Subject"].strip() for message in by_recipient["thomas@example.be"])
    assert french == [
        "Ikki\xa0: Brabo Logistics NV vous invite à postuler pour la mission Refonte du site.",
        "Ikki\xa0: Une nouvelle mission correspond à votre profil\xa0: Refonte du site.",
    ]
    [dutch] = by_recipient["buyer@brabo.example"]
    assert dutch["Subject"].strip() == "Ikki: Thomas Dubois heeft gesolliciteerd voor de opdracht Refonte du site."
    body = dutch.get_content()
    assert body.startswith("Hallo Brabo Logistics NV buyer,")
    assert f"{settings.base_url}/applications/{application_id}" in body

    with session_scope(engine) as session:
        assert all(notice.emailed_at is not None for notice in session.exec(select(Notice)).all()
                   if notice.kind in notices.EMAILED_KINDS)
        assert {job.status for job in session.exec(select(Job)).all()} == {"done"}


def test_in_app_notices_unread_and_read(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        _, profile = make_freelancer(session, "lien@example.be", "Lien", skills={"Python": 5})
        mission = make_mission(session, client)
        applications.invite(session, client, mission.id, profile.id)

        assert notices.unread_count(session, profile.user_id) == 2
        listed = notices.notices_for_user(session, profile.user_id)
        assert [notice.kind for notice in listed] == ["invitation", "mission_match"]
        assert notices.notice_text(listed[0], "en") == \
            "Brabo Logistics NV invites you to apply for the mission Data platform."
        notices.mark_read(session, listed[0])
        assert notices.unread_count(session, profile.user_id) == 1
        assert notices.mark_all_read(session, profile.user_id) == 1
        assert notices.unread_count(session, profile.user_id) == 0
        assert notices.notices_for_user(session, client.id) == []


def test_unknown_kind_rejected(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session, pytest.raises(ValueError):
        notices.notify(session, [1], "no_such_kind", "/")

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.marketplace import matching, missions
from backend.marketplace.models import FreelancerProfile, Mission
from backend.marketplace.seed import generate, write
from tests.marketplace.factories import make_client, make_freelancer, make_mission

MISSION_SKILLS = (("Python", 4, True), ("SQL", 3, True), ("Docker", 3, False))


def build_fixed_set(session):
    """Nine freelancers around one mission in Antwerp; see test_fixed_set_ranking for the scores."""
    client = make_client(session, "buyer@brabo.example")
    people = {}
    people["anna"] = make_freelancer(session, "anna@example.be", "Anna", rate="85.00",
                                     skills={"Python": 5, "SQL": 4, "Docker": 3}, available_from=date(2030, 2, 1))
    people["bram"] = make_freelancer(session, "bram@example.be", "Bram", rate="95.00", region="BE-VOV",
                                     travel_km=60, skills={"Python": 4, "SQL": 2}, languages=("nl",),
                                     available_from=date(2030, 3, 10), hours=32)
    people["chloe"] = make_freelancer(session, "chloe@example.be", "Chloé", rate="70.00", region="BE-WBR",
                                      travel_regions=("BE-VAN",), skills={"Python": 3, "SQL": 3, "Docker": 4},
                                      languages=("fr", "en"), hours=20)
    people["dirk"] = make_freelancer(session, "dirk@example.be", "Dirk", rate="60.00", skills={"Python": 2})
    people["elise"] = make_freelancer(session, "elise@example.be", "Elise", skills={"Docker": 5})
    people["frank"] = make_freelancer(session, "frank@example.be", "Frank", region="BE-WLX", travel_km=50,
                                      skills={"Python": 5, "SQL": 5})
    people["greet"] = make_freelancer(session, "greet@example.be", "Greet", rate="150.00",
                                      skills={"Python": 5, "SQL": 5}, available_from=date(2030, 6, 1))
    people["hidden"] = make_freelancer(session, "hidden@example.be", "Hidden", skills={"Python": 5, "SQL": 5},
                                       published=False)
    people["ilse"] = make_freelancer(session, "ilse@example.be", "Ilse", rate="80.00",
                                     skills={"Python": 5, "SQL": 4, "Docker": 3}, available_from=date(2030, 2, 1))
    mission = make_mission(session, client, skills=MISSION_SKILLS, languages=("nl", "en"), max_rate="90.00")
    return client, {key: profile for key, (_, profile) in people.items()}, mission


def names(session, matches):
    return [session.get(FreelancerProfile, match.profile_id).name for match in matches]


def test_fixed_set_ranking(database_url):
    with session_scope(core_db.get_engine(database_url)) as session:
        _, _, mission = build_fixed_set(session)
        matches = matching.matches_for_mission(session, mission)

        assert names(session, matches) == ["Ilse", "Anna", "Chloé", "Greet", "Bram", "Dirk"]
        assert [match.score for match in matches] == [100.0, 100.0, 82.5, 65.0, 62.5, 50.0]


def test_sql_and_python_scores_agree_on_fixed_set(database_url):
    with session_scope(core_db.get_engine(database_url)) as session:
        _, profiles, mission = build_fixed_set(session)
        facts = matching.mission_facts(session, mission)
        ranked = matching.rank_profiles(session, facts, limit=50)
        every_profile = matching.profiles_facts(session, [profile.id for profile in profiles.values()])

        scored = {profile_id: matching.score_profile(every_profile[profile_id], facts) for profile_id in every_profile}
        for profile_id, sql_score in ranked:
            assert sql_score == pytest.approx(scored[profile_id].score, abs=1e-9)
        excluded = {profiles[key].id for key in ("elise", "frank", "hidden")}
        assert excluded.isdisjoint(profile_id for profile_id, _ in ranked)
        assert all(scored[profile_id] is None for profile_id in excluded - {profiles["hidden"].id})


def _reasons(match):
    return {(reason.criterion, reason.text): reason for reason in match.reasons}


def test_reasons_explain_each_point(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        _, profiles, mission = build_fixed_set(session)
        by_profile = {match.profile_id: match for match in matching.matches_for_mission(session, mission)}

        bram = by_profile[profiles["bram"].id]
        assert sum(reason.points for reason in bram.reasons) == pytest.approx(bram.score)
        rendered = [matching.render_reason(reason, "en") for reason in bram.reasons]
        assert rendered == [
            "Python: level 4, at least 4 asked",
            "SQL: level 2, one below the 3 asked",
            "Docker: not on the profile",
            "Rate 95,00\xa0€, at most 10% above the maximum of 90,00\xa0€",
            "Available from 10 March 2030, less than two weeks after the start on 4 March 2030",
            "32 hours a week available, 32 needed",
            "Based in East Flanders, travels to Antwerp (about 51 km)",
            "Speaks Dutch",
            "Does not speak English",
        ]
        assert [reason.points for reason in bram.reasons] == [20.0, 10.0, 0.0, 7.5, 5.0, 5.0, 10.0, 5.0, 0.0]

        chloe = by_profile[profiles["chloe"].id]
        location = next(reason for reason in chloe.reasons if reason.criterion == "location")
        assert matching.render_reason(location, "en") == "Based in Walloon Brabant, works in Antwerp too"
        hours = next(reason for reason in chloe.reasons if reason.criterion == "hours")
        assert (hours.points, hours.max_points) == (2.5, 5.0)

        greet = by_profile[profiles["greet"].id]
        assert [matching.render_reason(reason, "en") for reason in greet.reasons if reason.points == 0] == [
            "Docker: not on the profile",
            "Rate 150,00\xa0€, more than 10% above the maximum of 90,00\xa0€",
            "Available only from 1 June 2030, more than two weeks after the start on 4 March 2030",
        ]


def test_reasons_render_in_french_and_dutch(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        _, profiles, mission = build_fixed_set(session)
        bram = next(match for match in matching.matches_for_mission(session, mission)
                    if match.profile_id == profiles["bram"].id)
        french = [matching.render_reason(reason, "fr") for reason in bram.reasons]
        dutch = [matching.render_reason(reason, "nl") for reason in bram.reasons]

    assert french == [
        "Python\xa0: niveau 4, minimum 4 demandé",
        "SQL\xa0: niveau 2, un cran sous le minimum demandé (3)",
        "Docker\xa0: absent du profil",
        "Tarif de 95,00\xa0€, au plus 10\xa0% au-dessus du maximum de 90,00\xa0€",
        "Disponible dès le 10 mars 2030, moins de deux semaines après le début de la mission (4 mars 2030)",
        "32 heures disponibles par semaine, 32 nécessaires",
        "Se déplace dans cette région\xa0: Anvers, à environ 51 km (domicile\xa0: Flandre-Orientale)",
        "Parle néerlandais",
        "Ne parle pas anglais",
    ]
    assert dutch[1] == "SQL: niveau 2, één onder het gevraagde minimum (3)"
    assert dutch[6] == "Gevestigd in Oost-Vlaanderen, verplaatst zich naar Antwerpen (ongeveer 51 km)"
    assert dutch[-2:] == ["Spreekt Nederlands", "Spreekt geen Engels"]


def test_hybrid_and_remote_missions_include_distant_freelancers(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, profiles, _ = build_fixed_set(session)
        hybrid = make_mission(session, client, title="Hybrid", skills=MISSION_SKILLS, languages=("nl", "en"),
                              work_mode="hybrid")
        remote = make_mission(session, client, title="Remote", skills=MISSION_SKILLS, languages=("nl", "en"),
                              work_mode="remote", region=None)
        frank_id = profiles["frank"].id

        hybrid_match = next(match for match in matching.matches_for_mission(session, hybrid)
                            if match.profile_id == frank_id)
        remote_match = next(match for match in matching.matches_for_mission(session, remote)
                            if match.profile_id == frank_id)

        hybrid_location = next(reason for reason in hybrid_match.reasons if reason.criterion == "location")
        assert hybrid_location.points == 5.0
        assert matching.render_reason(hybrid_location, "en") == \
            "Does not work on site in Antwerp, but the mission is partly remote"
        assert [reason.points for reason in remote_match.reasons if reason.criterion == "location"] == [10.0]


def test_budget_becomes_maximum_rate(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client = make_client(session, "buyer@brabo.example")
        mission = make_mission(session, client, max_rate=None, budget="23000.00", weeks=8, hours=32)

        # 23,000 € over 8 × 32 = 256 hours is 89.84375 €, rounded down to the cent.
        assert missions.effective_max_rate(mission) == Decimal("89.84")


def test_missions_for_freelancer_ranked_by_fit(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, profiles, mission = build_fixed_set(session)
        make_mission(session, client, title="Cheaper", skills=MISSION_SKILLS, languages=("nl", "en"),
                     max_rate="60.00")
        unrelated = make_mission(session, client, title="Unrelated", skills=(("Figma", 3, True),))
        draft = make_mission(session, client, title="Draft", skills=MISSION_SKILLS, publish=False)

        fitting = matching.missions_for_profile(session, session.get(FreelancerProfile, profiles["anna"].id))

        assert [(found.title, match.score) for found, match in fitting] == [
            ("Data platform", 100.0), ("Cheaper", 85.0)]
        assert unrelated.id not in [found.id for found, _ in fitting]
        assert draft.id not in [found.id for found, _ in fitting]
        assert mission.id == fitting[0][0].id


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sql_ranking_equals_python_ranking_on_seed_data(database_url):
    """For every seeded mission, the top 20 ranked in SQL are the top 20 of scoring everyone in Python."""
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        write(session, generate(11, profiles=250, missions=40, reference_date=date(2030, 1, 6), experiences=False))
    with session_scope(engine) as session:
        everyone = matching.profiles_facts(session, list(session.exec(
            select(FreelancerProfile.id).where(FreelancerProfile.published)).all()))
        compared = 0
        for mission in session.exec(select(Mission).where(Mission.status == "published")).all():
            facts = matching.mission_facts(session, mission)
            expected = sorted(
                (match for match in (matching.score_profile(profile, facts) for profile in everyone.values()) if match),
                key=lambda match: (-match.score, everyone[match.profile_id].hourly_rate, match.profile_id))[:20]
            ranked = matching.rank_profiles(session, facts)

            assert [profile_id for profile_id, _ in ranked] == [match.profile_id for match in expected]
            assert [score for _, score in ranked] == pytest.approx([match.score for match in expected], abs=1e-9)
            compared += len(ranked)
        assert compared > 200

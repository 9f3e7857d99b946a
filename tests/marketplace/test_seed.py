from __future__ import annotations

from collections import Counter
from datetime import date

from sqlmodel import func, select
from stdnum.be import vat

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.marketplace import matching
from backend.marketplace.models import Company, FreelancerProfile, Mission, ProfileSkill
from backend.marketplace.seed import FIRST_NAMES, SURNAMES, generate, write

REFERENCE = date(2026, 3, 2)


def text_language(text: str, french_marker: str, dutch_marker: str) -> str:
    if french_marker in text:
        return "fr"
    if dutch_marker in text:
        return "nl"
    return "en"


def test_same_seed_same_data():
    first = generate(5, profiles=60, missions=20, reference_date=REFERENCE)
    second = generate(5, profiles=60, missions=20, reference_date=REFERENCE)
    other = generate(6, profiles=60, missions=20, reference_date=REFERENCE)
    assert first == second
    assert first.profiles != other.profiles


def test_data_is_belgian_and_in_three_languages():
    data = generate(2026, profiles=300, missions=100, reference_date=REFERENCE)

    assert len(data.profiles) == 300
    assert len(data.missions) == 100
    assert all(vat.is_valid(company["enterprise_number"]) for company in data.companies)
    every_first_name = set(FIRST_NAMES["nl"] + FIRST_NAMES["fr"])
    every_surname = set(SURNAMES["nl"] + SURNAMES["fr"])
    for profile in data.profiles:
        first, _, last = profile["name"].partition(" ")
        assert first in every_first_name
        assert last in every_surname
    headline_languages = Counter(text_language(row["headline"], " ans d'expérience", " jaar ervaring")
                                 for row in data.profiles)
    assert headline_languages["fr"] > 50
    assert headline_languages["nl"] > 50
    assert headline_languages["en"] > 3
    description_languages = Counter(text_language(row["description"], "cherche", "zoekt") for row in data.missions)
    assert set(description_languages) == {"fr", "nl", "en"}
    assert {profile["region"] for profile in data.profiles} == set(matching.regions.REGIONS)
    assert len({profile["slug"] for profile in data.profiles}) == 300


def test_written_seed_is_matchable(sqlite_url):
    engine = core_db.get_engine(sqlite_url)
    with session_scope(engine) as session:
        summary = write(session, generate(3, profiles=120, missions=30, reference_date=REFERENCE))
    with session_scope(engine) as session:
        assert summary.freelancers == session.exec(select(func.count()).select_from(FreelancerProfile)).one() == 120
        assert session.exec(select(func.count()).select_from(Company)).one() == summary.companies
        assert session.exec(select(func.count()).select_from(ProfileSkill)).one() > 300
        published = session.exec(select(Mission).where(Mission.status == "published")).all()
        assert sum(1 for mission in published if matching.matches_for_mission(session, mission)) > len(published) / 2

"""Matching freelancers and missions with explainable rules.

NOTE: the score is a weighted sum of rules, not a learned model, because the platform has
no labelled outcomes yet (which matches led to a hire and a good mission). Rules also give
the client a reason for every point. Revisit once hires and reviews are recorded.

The score is out of 100 points:

| criterion | points | full points | half points |
| --- | --- | --- | --- |
| required skills | 40, shared equally | level at least the minimum | level one below the minimum |
| optional skills | 10, shared equally | level at least the minimum | level one below the minimum |
| hourly rate | 15 | at most the maximum rate | at most 10 % above it |
| start date | 10 | available on the start date | available within 14 days after it |
| hours per week | 5 | at least the hours needed | at least half of them |
| location | 10 | remote, or the freelancer works in the region | partly remote mission out of reach |
| languages | 10, shared equally | speaks the language | |

A criterion the mission leaves open (no optional skills, no rate limit) gives its full
points. Two rules exclude a freelancer instead of scoring: having none of the required
skills, and an on-site mission in a region the freelancer does not work in.

For a mission, the ranking runs in SQL (``rank_profiles``), so only the top rows leave
the database. ``score_profile`` computes the same score in Python, with its reasons, for
the rows shown. The two must agree, and the tests check that they do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from backend.core.money import round_cents
from backend.marketplace import notices, regions
from backend.marketplace.labels import gettext_noop
from backend.marketplace.missions import OPEN_STATUSES, effective_max_rate
from backend.marketplace.models import (
    FreelancerProfile,
    Mission,
    MissionLanguage,
    MissionSkill,
    ProfileLanguage,
    ProfileReach,
    ProfileSkill,
)
from backend.marketplace.service import language_name
from backend.web import i18n

REQUIRED_SKILLS_POINTS = 40.0
OPTIONAL_SKILLS_POINTS = 10.0
RATE_POINTS = 15.0
START_POINTS = 10.0
HOURS_POINTS = 5.0
LOCATION_POINTS = 10.0
LANGUAGE_POINTS = 10.0
START_GRACE = timedelta(days=14)
RATE_TOLERANCE = Decimal("0.10")

TOP_MATCHES = 20
# Freelancers ranked at least this high hear about a newly published mission.
NOTIFY_MIN_SCORE = 60.0
# Missions listed to a freelancer as fitting their profile score at least this.
LIST_MIN_SCORE = 40.0


@dataclass(frozen=True)
class SkillNeed:
    key: str
    name: str
    min_level: int
    required: bool


@dataclass(frozen=True)
class MissionFacts:
    mission_id: int
    skills: tuple[SkillNeed, ...]
    languages: tuple[str, ...]
    work_mode: str
    region: str | None
    start_date: date
    hours_per_week: int
    max_rate: Decimal | None


@dataclass(frozen=True)
class ProfileFacts:
    profile_id: int
    hourly_rate: Decimal
    available_from: date
    hours_per_week: int
    region: str
    travel_km: int
    travel_regions: frozenset[str]
    # Skill key to (name, level).
    skills: dict[str, tuple[str, int]]
    languages: frozenset[str]
    reach: frozenset[str]


@dataclass(frozen=True)
class Reason:
    """One line of a score's explanation: an English msgid, its parameters and its points."""

    criterion: str
    text: str
    params: dict[str, Any]
    points: float
    max_points: float

    @property
    def met(self) -> bool:
        return self.points >= self.max_points

    @property
    def partly_met(self) -> bool:
        return 0 < self.points < self.max_points


@dataclass
class Match:
    profile_id: int
    mission_id: int
    score: float
    reasons: list[Reason] = field(default_factory=list)


def _skill_hits(level: int, min_level: int) -> int:
    """Return 2 for a level at least the minimum, 1 for one level below it, else 0."""
    if level >= min_level:
        return 2
    if level >= 1 and level == min_level - 1:
        return 1
    return 0


def rate_limits(max_rate: Decimal) -> tuple[Decimal, Decimal]:
    """Return the maximum rate and the rate up to which half the rate points are given."""
    return max_rate, round_cents(max_rate * (1 + RATE_TOLERANCE))


def _skill_reasons(profile: ProfileFacts, needs: list[SkillNeed], total_points: float,
                   criterion: str) -> tuple[float, list[Reason]]:
    if not needs:
        text = gettext_noop("No optional skills asked") if criterion == "optional_skill" else gettext_noop(
            "No required skills asked")
        return total_points, [Reason(criterion, text, {}, total_points, total_points)]
    share = total_points / len(needs)
    hits_sum = 0
    reasons = []
    for need in needs:
        _, level = profile.skills.get(need.key, (need.name, 0))
        hits = _skill_hits(level, need.min_level)
        hits_sum += hits
        params = {"skill": need.name, "level": level, "minimum": need.min_level}
        if level == 0:
            text = gettext_noop("{skill}: not on the profile")
        elif hits == 2:
            text = gettext_noop("{skill}: level {level}, at least {minimum} asked")
        elif hits == 1:
            text = gettext_noop("{skill}: level {level}, one below the {minimum} asked")
        else:
            text = gettext_noop("{skill}: level {level}, well below the {minimum} asked")
        reasons.append(Reason(criterion, text, params, share * hits / 2, share))
    return total_points * hits_sum / (2 * len(needs)), reasons


def score_profile(profile: ProfileFacts, mission: MissionFacts) -> Match | None:
    """Score a freelancer for a mission with its reasons, or return None if a rule excludes them."""
    required = [need for need in mission.skills if need.required]
    optional = [need for need in mission.skills if not need.required]
    if required and not any(need.key in profile.skills for need in required):
        return None
    reachable = mission.region is not None and mission.region in profile.reach
    if mission.work_mode == "onsite" and not reachable:
        return None

    required_points, reasons = _skill_reasons(profile, required, REQUIRED_SKILLS_POINTS, "skill")
    optional_points, optional_reasons = _skill_reasons(profile, optional, OPTIONAL_SKILLS_POINTS,
                                                       "optional_skill")
    reasons += optional_reasons

    rate_points, reason = _rate(profile, mission)
    reasons.append(reason)
    start_points, reason = _start(profile, mission)
    reasons.append(reason)
    hours_points, reason = _hours(profile, mission)
    reasons.append(reason)
    location_points, reason = _location(profile, mission, reachable)
    reasons.append(reason)
    language_points, language_reasons = _languages(profile, mission)
    reasons += language_reasons

    # Same terms in the same order as the SQL expression, so both give the same float.
    score = (required_points + optional_points + rate_points + start_points + hours_points
             + location_points + language_points)
    return Match(profile.profile_id, mission.mission_id, score, reasons)


def _rate(profile: ProfileFacts, mission: MissionFacts) -> tuple[float, Reason]:
    if mission.max_rate is None:
        return RATE_POINTS, Reason("rate", gettext_noop("Rate {rate}; the mission sets no maximum"),
                                   {"rate": profile.hourly_rate}, RATE_POINTS, RATE_POINTS)
    maximum, tolerated = rate_limits(mission.max_rate)
    params = {"rate": profile.hourly_rate, "maximum": maximum}
    if profile.hourly_rate <= maximum:
        points, text = RATE_POINTS, gettext_noop("Rate {rate}, within the maximum of {maximum}")
    elif profile.hourly_rate <= tolerated:
        points, text = RATE_POINTS / 2, gettext_noop("Rate {rate}, at most 10% above the maximum of {maximum}")
    else:
        points, text = 0.0, gettext_noop("Rate {rate}, more than 10% above the maximum of {maximum}")
    return points, Reason("rate", text, params, points, RATE_POINTS)


def _start(profile: ProfileFacts, mission: MissionFacts) -> tuple[float, Reason]:
    params = {"available": profile.available_from, "start": mission.start_date}
    if profile.available_from <= mission.start_date:
        points, text = START_POINTS, gettext_noop("Available from {available}, in time for the start on {start}")
    elif profile.available_from <= mission.start_date + START_GRACE:
        points, text = START_POINTS / 2, gettext_noop(
            "Available from {available}, less than two weeks after the start on {start}")
    else:
        points, text = 0.0, gettext_noop(
            "Available only from {available}, more than two weeks after the start on {start}")
    return points, Reason("start", text, params, points, START_POINTS)


def _hours(profile: ProfileFacts, mission: MissionFacts) -> tuple[float, Reason]:
    params = {"hours": profile.hours_per_week, "needed": mission.hours_per_week}
    if profile.hours_per_week >= mission.hours_per_week:
        points, text = HOURS_POINTS, gettext_noop("{hours} hours a week available, {needed} needed")
    elif profile.hours_per_week * 2 >= mission.hours_per_week:
        points, text = HOURS_POINTS / 2, gettext_noop("Only {hours} hours a week available, {needed} needed")
    else:
        points, text = 0.0, gettext_noop("Only {hours} hours a week available, {needed} needed")
    return points, Reason("hours", text, params, points, HOURS_POINTS)


def _location(profile: ProfileFacts, mission: MissionFacts, reachable: bool) -> tuple[float, Reason]:
    if mission.work_mode == "remote":
        return LOCATION_POINTS, Reason("location", gettext_noop("Remote mission"), {}, LOCATION_POINTS,
                                       LOCATION_POINTS)
    params: dict[str, Any] = {"region": mission.region, "home": profile.region}
    if not reachable:
        return LOCATION_POINTS / 2, Reason(
            "location", gettext_noop("Does not work on site in {region}, but the mission is partly remote"),
            params, LOCATION_POINTS / 2, LOCATION_POINTS)
    if profile.region == mission.region:
        text = gettext_noop("Based in {region}, where the mission takes place")
    elif mission.region in profile.travel_regions:
        text = gettext_noop("Based in {home}, works in {region} too")
    else:
        params["distance"] = round(regions.distance_km(profile.region, mission.region))
        text = gettext_noop("Based in {home}, travels to {region} (about {distance} km)")
    return LOCATION_POINTS, Reason("location", text, params, LOCATION_POINTS, LOCATION_POINTS)


def _languages(profile: ProfileFacts, mission: MissionFacts) -> tuple[float, list[Reason]]:
    if not mission.languages:
        return LANGUAGE_POINTS, [Reason("language", gettext_noop("No working language asked"), {},
                                        LANGUAGE_POINTS, LANGUAGE_POINTS)]
    spoken = [code for code in mission.languages if code in profile.languages]
    missing = [code for code in mission.languages if code not in profile.languages]
    share = LANGUAGE_POINTS / len(mission.languages)
    reasons = []
    if spoken:
        reasons.append(Reason("language", gettext_noop("Speaks {languages}"), {"languages": spoken},
                              share * len(spoken), share * len(spoken)))
    if missing:
        reasons.append(Reason("language", gettext_noop("Does not speak {languages}"), {"languages": missing},
                              0.0, share * len(missing)))
    return LANGUAGE_POINTS * len(spoken) / len(mission.languages), reasons


def render_reason(reason: Reason, language: str) -> str:
    """Return the reason as a sentence in ``language``, with amounts, dates and places formatted."""
    gettext = i18n.gettext_for(language)
    params: dict[str, Any] = {}
    for name, value in reason.params.items():
        if name in ("region", "home"):
            params[name] = regions.region_name(value, gettext)
        elif name == "languages":
            params[name] = ", ".join(language_name(code, language) for code in value)
        elif isinstance(value, Decimal):
            params[name] = i18n.format_money(value, language)
        elif isinstance(value, date):
            params[name] = i18n.format_day(value, language)
        else:
            params[name] = value
    return gettext(reason.text).format(**params)


# Loading facts


def mission_facts(session: Session, mission: Mission) -> MissionFacts:
    return missions_facts(session, [mission])[mission.id]


def missions_facts(session: Session, missions: list[Mission]) -> dict[int, MissionFacts]:
    ids = [mission.id for mission in missions]
    skills: dict[int, list[SkillNeed]] = {mission_id: [] for mission_id in ids}
    languages: dict[int, list[str]] = {mission_id: [] for mission_id in ids}
    if ids:
        for row in session.exec(select(MissionSkill).where(MissionSkill.mission_id.in_(ids)).order_by(
                MissionSkill.required.desc(), MissionSkill.min_level.desc(), MissionSkill.name)).all():
            skills[row.mission_id].append(SkillNeed(row.skill_key, row.name, row.min_level, row.required))
        for row in session.exec(select(MissionLanguage).where(MissionLanguage.mission_id.in_(ids)).order_by(
                MissionLanguage.id)).all():
            languages[row.mission_id].append(row.language)
    return {
        mission.id: MissionFacts(
            mission_id=mission.id, skills=tuple(skills[mission.id]), languages=tuple(languages[mission.id]),
            work_mode=mission.work_mode, region=mission.region, start_date=mission.start_date,
            hours_per_week=mission.hours_per_week, max_rate=effective_max_rate(mission))
        for mission in missions
    }


def profiles_facts(session: Session, profile_ids: list[int]) -> dict[int, ProfileFacts]:
    if not profile_ids:
        return {}
    profiles = session.exec(select(FreelancerProfile).where(FreelancerProfile.id.in_(profile_ids))).all()
    skills: dict[int, dict[str, tuple[str, int]]] = {profile_id: {} for profile_id in profile_ids}
    languages: dict[int, set[str]] = {profile_id: set() for profile_id in profile_ids}
    reach: dict[int, set[str]] = {profile_id: set() for profile_id in profile_ids}
    for row in session.exec(select(ProfileSkill).where(ProfileSkill.profile_id.in_(profile_ids))).all():
        skills[row.profile_id][row.skill_key] = (row.name, row.level)
    for profile_id, code in session.exec(select(ProfileLanguage.profile_id, ProfileLanguage.language).where(
            ProfileLanguage.profile_id.in_(profile_ids))).all():
        languages[profile_id].add(code)
    for profile_id, region in session.exec(select(ProfileReach.profile_id, ProfileReach.region).where(
            ProfileReach.profile_id.in_(profile_ids))).all():
        reach[profile_id].add(region)
    return {
        profile.id: ProfileFacts(
            profile_id=profile.id, hourly_rate=profile.hourly_rate, available_from=profile.available_from,
            hours_per_week=profile.hours_per_week, region=profile.region, travel_km=profile.travel_km,
            travel_regions=frozenset(profile.travel_regions), skills=skills[profile.id],
            languages=frozenset(languages[profile.id]), reach=frozenset(reach[profile.id]))
        for profile in profiles
    }


# Ranking freelancers for a mission, in SQL


def _hits_expression(needs: list[SkillNeed]):
    """SUM over a profile's skill rows of 2 (level at least the minimum) or 1 (one below)."""
    whens = []
    for need in needs:
        whens.append((sa.and_(ProfileSkill.skill_key == need.key, ProfileSkill.level >= need.min_level), 2))
        if need.min_level > 1:
            whens.append((sa.and_(ProfileSkill.skill_key == need.key, ProfileSkill.level == need.min_level - 1), 1))
    return sa.func.sum(sa.case(*whens, else_=0))


def _points(value: float):
    return sa.literal(value, sa.Float)


def score_statement(facts: MissionFacts, limit: int):
    """Build the SELECT of (profile id, score) for the mission's top ``limit`` freelancers."""
    profile = FreelancerProfile
    required = [need for need in facts.skills if need.required]
    optional = [need for need in facts.skills if not need.required]
    conditions = [profile.published.is_(True)]

    statement_from = profile.__table__
    if facts.skills:
        required_keys = [need.key for need in required]
        skill_rows = (
            select(
                ProfileSkill.profile_id.label("profile_id"),
                (_hits_expression(required) if required else sa.literal(0)).label("required_hits"),
                (_hits_expression(optional) if optional else sa.literal(0)).label("optional_hits"),
                sa.func.sum(sa.case((ProfileSkill.skill_key.in_(required_keys or [""]), 1), else_=0))
                .label("required_found"),
            )
            .where(ProfileSkill.skill_key.in_([need.key for need in facts.skills]))
            .group_by(ProfileSkill.profile_id)
            .subquery("skill_rows")
        )
        # Freelancers without any required skill are excluded, so the join can be inner.
        statement_from = statement_from.join(skill_rows, skill_rows.c.profile_id == profile.id,
                                             isouter=not required)
        if required:
            conditions.append(skill_rows.c.required_found > 0)
        required_hits = sa.func.coalesce(skill_rows.c.required_hits, 0)
        optional_hits = sa.func.coalesce(skill_rows.c.optional_hits, 0)
    required_points = (_points(REQUIRED_SKILLS_POINTS) * required_hits / (2 * len(required))
                       if required else _points(REQUIRED_SKILLS_POINTS))
    optional_points = (_points(OPTIONAL_SKILLS_POINTS) * optional_hits / (2 * len(optional))
                       if optional else _points(OPTIONAL_SKILLS_POINTS))

    if facts.max_rate is None:
        rate_points = _points(RATE_POINTS)
    else:
        maximum, tolerated = rate_limits(facts.max_rate)
        rate_points = sa.case((profile.hourly_rate <= maximum, _points(RATE_POINTS)),
                              (profile.hourly_rate <= tolerated, _points(RATE_POINTS / 2)),
                              else_=_points(0.0))
    start_points = sa.case((profile.available_from <= facts.start_date, _points(START_POINTS)),
                           (profile.available_from <= facts.start_date + START_GRACE, _points(START_POINTS / 2)),
                           else_=_points(0.0))
    hours_points = sa.case((profile.hours_per_week >= facts.hours_per_week, _points(HOURS_POINTS)),
                           (profile.hours_per_week * 2 >= facts.hours_per_week, _points(HOURS_POINTS / 2)),
                           else_=_points(0.0))

    if facts.work_mode == "remote":
        location_points = _points(LOCATION_POINTS)
    else:
        reachable = sa.exists().where(ProfileReach.profile_id == profile.id, ProfileReach.region == facts.region)
        if facts.work_mode == "onsite":
            conditions.append(reachable)
            location_points = _points(LOCATION_POINTS)
        else:
            location_points = sa.case((reachable, _points(LOCATION_POINTS)), else_=_points(LOCATION_POINTS / 2))

    if facts.languages:
        # A correlated count reads the few language rows of each candidate through the
        # (profile_id, language) unique index, whatever the planner estimates.
        spoken = (
            select(sa.func.count())
            .where(ProfileLanguage.profile_id == profile.id, ProfileLanguage.language.in_(facts.languages))
            .scalar_subquery()
        )
        language_points = _points(LANGUAGE_POINTS) * spoken / len(facts.languages)
    else:
        language_points = _points(LANGUAGE_POINTS)

    score = (required_points + optional_points + rate_points + start_points + hours_points
             + location_points + language_points).label("score")
    return (
        select(profile.id, score)
        .select_from(statement_from)
        .where(*conditions)
        .order_by(score.desc(), profile.hourly_rate, profile.id)
        .limit(limit)
    )


def rank_profiles(session: Session, facts: MissionFacts, limit: int = TOP_MATCHES) -> list[tuple[int, float]]:
    """Return the ids and scores of the mission's best freelancers, best first, ranked in SQL."""
    rows = session.exec(score_statement(facts, limit)).all()
    return [(profile_id, float(score)) for profile_id, score in rows]


def matches_for_mission(session: Session, mission: Mission, limit: int = TOP_MATCHES) -> list[Match]:
    """Return the mission's best freelancers with their reasons, best first."""
    facts = mission_facts(session, mission)
    ranked = rank_profiles(session, facts, limit)
    profiles = profiles_facts(session, [profile_id for profile_id, _ in ranked])
    matches = []
    for profile_id, _ in ranked:
        match = score_profile(profiles[profile_id], facts)
        if match is not None:
            matches.append(match)
    return matches


# Missions for a freelancer, scored in Python


def missions_for_profile(session: Session, profile: FreelancerProfile, *, min_score: float = LIST_MIN_SCORE,
                         limit: int = 50) -> list[tuple[Mission, Match]]:
    """Return the open missions that fit the freelancer, best first.

    SQL keeps the open missions that ask for at least one of the freelancer's skills as a
    required skill; Python scores them.
    """
    facts = profiles_facts(session, [profile.id])[profile.id]
    if not facts.skills:
        return []
    candidate_ids = select(MissionSkill.mission_id).where(MissionSkill.required.is_(True),
                                                          MissionSkill.skill_key.in_(list(facts.skills)))
    missions = list(session.exec(select(Mission).where(Mission.status.in_(OPEN_STATUSES),
                                                       Mission.id.in_(candidate_ids))).all())
    all_facts = missions_facts(session, missions)
    scored = []
    for mission in missions:
        match = score_profile(facts, all_facts[mission.id])
        if match is not None and match.score >= min_score:
            scored.append((mission, match))
    scored.sort(key=lambda pair: (-pair[1].score, pair[0].start_date, pair[0].id))
    return scored[:limit]


def notify_matching_freelancers(session: Session, mission: Mission) -> int:
    """Tell the best-ranked freelancers about a newly published mission; return how many."""
    matches = [match for match in matches_for_mission(session, mission) if match.score >= NOTIFY_MIN_SCORE]
    user_ids = list(session.exec(select(FreelancerProfile.user_id).where(
        FreelancerProfile.id.in_([match.profile_id for match in matches]))).all())
    if user_ids:
        notices.notify(session, user_ids, "mission_match", f"/missions/{mission.id}", mission=mission.title)
    return len(user_ids)

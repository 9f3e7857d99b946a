"""Missions: what a client needs, its skills and languages, and its status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import structlog
from sqlmodel import Session, delete, or_, select

from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.core.time import today_brussels, utcnow
from backend.marketplace import service
from backend.marketplace.errors import (
    MissionNotEditable,
    MissionNotFound,
    MissionTransitionNotAllowed,
    SkillNotFound,
)
from backend.marketplace.labels import MISSION_STATUS_LABELS
from backend.marketplace.models import (
    WORK_MODES,
    Application,
    Mission,
    MissionLanguage,
    MissionSkill,
)

log = structlog.get_logger(__name__)

# Status changes a client may make. "filled" is also set when the client hires a candidate.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "closed"}),
    "published": frozenset({"paused", "filled", "closed"}),
    "paused": frozenset({"published", "closed"}),
    "filled": frozenset({"closed"}),
    "closed": frozenset(),
}
EDITABLE_STATUSES = frozenset({"draft", "published", "paused"})
# Freelancers see missions in these statuses even when they are not candidates.
OPEN_STATUSES = frozenset({"published"})
MAX_DURATION_WEEKS = 260


@dataclass
class SkillRequirement:
    name: str
    min_level: int
    required: bool = True


@dataclass
class MissionInput:
    title: str
    description: str
    work_mode: str
    region: str | None
    start_date: date
    duration_weeks: int
    hours_per_week: int
    max_rate: Decimal | None = None
    budget: Decimal | None = None
    languages: list[str] = field(default_factory=list)
    # None keeps the mission's skills as they are.
    skills: list[SkillRequirement] | None = None


def effective_max_rate(mission: Mission) -> Decimal | None:
    """Return the maximum hourly rate, or the budget spread over every hour of the mission.

    A rate derived from the budget is rounded down to the cent, so it never exceeds the budget.
    """
    if mission.max_rate is not None:
        return mission.max_rate
    if mission.budget is not None:
        hours = mission.duration_weeks * mission.hours_per_week
        return (mission.budget / hours).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return None


def end_date(mission: Mission) -> date:
    """Return the mission's last day: the day before the start plus its duration in weeks."""
    return mission.start_date + timedelta(weeks=mission.duration_weeks, days=-1)


def _check_input(data: MissionInput, *, start_date_changed: bool) -> None:
    if not data.title.strip() or len(data.title) > 200:
        raise InvalidInput("Write a mission title of 1 to 200 characters.")
    if data.work_mode not in WORK_MODES:
        raise InvalidInput("Unknown work mode {value}.", value=data.work_mode)
    if data.work_mode != "remote" or data.region is not None:
        if data.region is None:
            raise InvalidInput("Choose where the mission takes place, or make it remote.")
        service.check_region(data.region)
    if start_date_changed and data.start_date < today_brussels():
        raise InvalidInput("The start date {value} is in the past.", value=data.start_date.isoformat())
    if not 1 <= data.duration_weeks <= MAX_DURATION_WEEKS:
        raise InvalidInput("Invalid duration {value}: write a number of weeks from 1 to 260.",
                           value=data.duration_weeks)
    if not 1 <= data.hours_per_week <= service.MAX_HOURS_PER_WEEK:
        raise InvalidInput("Invalid hours per week {value}: write a number from 1 to 80.",
                           value=data.hours_per_week)
    if data.max_rate is not None and data.budget is not None:
        raise InvalidInput("Give either a maximum hourly rate or a budget, not both.")
    for amount in (data.max_rate, data.budget):
        if amount is not None and amount <= 0:
            raise InvalidInput("Invalid amount {value}: write euros and cents, such as 85.50.", value=amount)
    service.check_languages(data.languages)


def create_mission(session: Session, user: User, data: MissionInput) -> Mission:
    """Create a draft mission for the user's company."""
    company = service.require_company(session, user)
    _check_input(data, start_date_changed=True)

    mission = Mission(company_id=company.id, created_by=user.id, title=data.title.strip(),
                      description=data.description.strip(), work_mode=data.work_mode,
                      region=data.region, start_date=data.start_date, duration_weeks=data.duration_weeks,
                      hours_per_week=data.hours_per_week, max_rate=data.max_rate, budget=data.budget)
    session.add(mission)
    session.flush()
    _replace_requirements(session, mission, data)
    log.info("mission.created", mission_id=mission.id, company_id=company.id)
    return mission


def update_mission(session: Session, user: User, mission_id: int, data: MissionInput) -> Mission:
    mission = get_company_mission(session, user, mission_id)
    if mission.status not in EDITABLE_STATUSES:
        raise MissionNotEditable(status=MISSION_STATUS_LABELS[mission.status])
    _check_input(data, start_date_changed=data.start_date != mission.start_date)

    mission.title = data.title.strip()
    mission.description = data.description.strip()
    mission.work_mode = data.work_mode
    mission.region = data.region
    mission.start_date = data.start_date
    mission.duration_weeks = data.duration_weeks
    mission.hours_per_week = data.hours_per_week
    mission.max_rate = data.max_rate
    mission.budget = data.budget
    mission.updated_at = utcnow()
    session.add(mission)
    _replace_requirements(session, mission, data)
    log.info("mission.updated", mission_id=mission.id)
    return mission


def _replace_requirements(session: Session, mission: Mission, data: MissionInput) -> None:
    session.exec(delete(MissionLanguage).where(MissionLanguage.mission_id == mission.id))
    for code in service.check_languages(data.languages):
        session.add(MissionLanguage(mission_id=mission.id, language=code))
    if data.skills is not None:
        session.exec(delete(MissionSkill).where(MissionSkill.mission_id == mission.id))
        seen: set[str] = set()
        for requirement in data.skills:
            name = service.clean_skill_name(requirement.name)
            key = service.skill_key(name)
            if key in seen:
                raise InvalidInput("The skill {skill} is listed twice.", skill=name)
            seen.add(key)
            session.add(MissionSkill(mission_id=mission.id, skill_key=key, name=name,
                                     min_level=service.check_level(requirement.min_level),
                                     required=requirement.required))
    session.flush()


def set_mission_skill(session: Session, user: User, mission_id: int, requirement: SkillRequirement) -> MissionSkill:
    """Add a skill to the mission, or change its minimum level and whether it is required."""
    mission = get_company_mission(session, user, mission_id)
    if mission.status not in EDITABLE_STATUSES:
        raise MissionNotEditable(status=MISSION_STATUS_LABELS[mission.status])
    name = service.clean_skill_name(requirement.name)
    key = service.skill_key(name)
    skill = session.exec(select(MissionSkill).where(MissionSkill.mission_id == mission.id,
                                                    MissionSkill.skill_key == key)).first()
    if skill is None:
        skill = MissionSkill(mission_id=mission.id, skill_key=key, name=name, min_level=1)
    skill.name = name
    skill.min_level = service.check_level(requirement.min_level)
    skill.required = requirement.required
    session.add(skill)
    session.flush()
    return skill


def remove_mission_skill(session: Session, user: User, mission_id: int, skill_id: int) -> None:
    mission = get_company_mission(session, user, mission_id)
    if mission.status not in EDITABLE_STATUSES:
        raise MissionNotEditable(status=MISSION_STATUS_LABELS[mission.status])
    skill = session.get(MissionSkill, skill_id)
    if skill is None or skill.mission_id != mission.id:
        raise SkillNotFound(skill_id=skill_id)
    session.delete(skill)


def change_status(session: Session, user: User, mission_id: int, target: str) -> Mission:
    """Move the mission to ``target`` if the transition is allowed; publishing notifies matches."""
    mission = get_company_mission(session, user, mission_id)
    return apply_transition(session, mission, target)


def apply_transition(session: Session, mission: Mission, target: str) -> Mission:
    if target not in ALLOWED_TRANSITIONS.get(mission.status, ()):
        raise MissionTransitionNotAllowed(current=MISSION_STATUS_LABELS[mission.status],
                                          target=MISSION_STATUS_LABELS.get(target, target))
    if target == "published":
        skills = mission_skills(session, mission.id)
        if not any(skill.required for skill in skills):
            raise InvalidInput("Add at least one required skill before publishing the mission.")
        if not mission_languages(session, mission.id):
            raise InvalidInput("Choose at least one working language before publishing the mission.")

    first_publication = target == "published" and mission.published_at is None
    previous = mission.status
    mission.status = target
    mission.updated_at = utcnow()
    if first_publication:
        mission.published_at = utcnow()
    session.add(mission)
    session.flush()
    log.info("mission.status_changed", mission_id=mission.id, previous=previous, status=target)

    if first_publication:
        from backend.marketplace import matching

        matching.notify_matching_freelancers(session, mission)
    return mission


def get_company_mission(session: Session, user: User, mission_id: int) -> Mission:
    """Return the mission if it belongs to the user's company; any other user gets MissionNotFound."""
    mission = session.get(Mission, mission_id)
    company = service.company_for_user(session, user.id) if user.role == "client" else None
    if mission is None or company is None or mission.company_id != company.id:
        raise MissionNotFound(mission_id=mission_id)
    return mission


def get_visible_mission(session: Session, user: User, mission_id: int) -> Mission:
    """Return the mission if the user may read it.

    Clients read their company's missions. Freelancers read open missions, and any
    mission they are a candidate for.
    """
    if user.role == "client":
        return get_company_mission(session, user, mission_id)
    mission = session.get(Mission, mission_id)
    if mission is None:
        raise MissionNotFound(mission_id=mission_id)
    if mission.status in OPEN_STATUSES:
        return mission
    candidacy = session.exec(select(Application.id).where(Application.mission_id == mission.id,
                                                          Application.freelancer_user_id == user.id)).first()
    if candidacy is None:
        raise MissionNotFound(mission_id=mission_id)
    return mission


def company_missions(session: Session, company_id: int) -> list[Mission]:
    query = select(Mission).where(Mission.company_id == company_id).order_by(Mission.id.desc())
    return list(session.exec(query).all())


def open_missions(session: Session, *, limit: int = 200) -> list[Mission]:
    query = select(Mission).where(Mission.status.in_(OPEN_STATUSES)).order_by(Mission.start_date,
                                                                               Mission.id).limit(limit)
    return list(session.exec(query).all())


def mission_skills(session: Session, mission_id: int) -> list[MissionSkill]:
    query = select(MissionSkill).where(MissionSkill.mission_id == mission_id).order_by(
        MissionSkill.required.desc(), MissionSkill.min_level.desc(), MissionSkill.name)
    return list(session.exec(query).all())


def mission_languages(session: Session, mission_id: int) -> list[str]:
    spoken = set(session.exec(select(MissionLanguage.language).where(MissionLanguage.mission_id == mission_id)).all())
    return [code for code in service.WORK_LANGUAGES if code in spoken]


def missions_by_id(session: Session, mission_ids: list[int]) -> dict[int, Mission]:
    if not mission_ids:
        return {}
    return {mission.id: mission for mission in session.exec(select(Mission).where(Mission.id.in_(mission_ids))).all()}


def search_open_missions(session: Session, text: str, *, limit: int = 50) -> list[Mission]:
    pattern = f"%{text.strip()}%"
    query = select(Mission).where(Mission.status.in_(OPEN_STATUSES),
                                  or_(Mission.title.ilike(pattern), Mission.description.ilike(pattern)))
    return list(session.exec(query.order_by(Mission.start_date).limit(limit)).all())


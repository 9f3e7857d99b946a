"""Candidacies: invitations, applications, the shortlist, checks on candidates, and hiring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.core.time import today_brussels, utcnow
from backend.marketplace import missions, notices, service
from backend.marketplace.errors import (
    AlreadyApplied,
    ApplicationNotFound,
    ApplicationTransitionNotAllowed,
    MissionNotFound,
    MissionNotOpen,
)
from backend.marketplace.labels import APPLICATION_STATUS_LABELS
from backend.marketplace.models import (
    CHECK_KINDS,
    CHECK_OUTCOMES,
    Application,
    CandidateCheck,
    Company,
    FreelancerProfile,
    Mission,
)

log = structlog.get_logger(__name__)

APPLICATION_TRANSITIONS: dict[str, frozenset[str]] = {
    "invited": frozenset({"applied", "declined", "rejected"}),
    "applied": frozenset({"shortlisted", "rejected", "withdrawn"}),
    # Back to "applied" takes the candidate off the shortlist.
    "shortlisted": frozenset({"applied", "accepted", "rejected", "withdrawn"}),
    "accepted": frozenset(),
    "rejected": frozenset(),
    "declined": frozenset(),
    "withdrawn": frozenset(),
}
# Candidacies still in the running; hiring one ends the others.
OPEN_APPLICATION_STATUSES = frozenset({"invited", "applied", "shortlisted"})
MAX_TEXT_LENGTH = 5000


def _move(application: Application, target: str) -> None:
    if target not in APPLICATION_TRANSITIONS[application.status]:
        raise ApplicationTransitionNotAllowed(current=APPLICATION_STATUS_LABELS[application.status],
                                              target=APPLICATION_STATUS_LABELS[target])
    application.status = target


def _check_text(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidInput("The text is too long: write at most {maximum} characters.", maximum=MAX_TEXT_LENGTH)
    return text


def _require_open(mission: Mission) -> None:
    if mission.status not in missions.OPEN_STATUSES:
        raise MissionNotOpen()


def invite(session: Session, user: User, mission_id: int, profile_id: int, message: str = "") -> Application:
    """Invite a freelancer to apply for one of the company's open missions."""
    mission = missions.get_company_mission(session, user, mission_id)
    _require_open(mission)
    profile = session.get(FreelancerProfile, profile_id)
    if profile is None or not profile.published:
        raise InvalidInput("This freelancer's profile is not public.")
    if _find(session, mission.id, profile.id) is not None:
        raise AlreadyApplied()

    application = Application(mission_id=mission.id, profile_id=profile.id, freelancer_user_id=profile.user_id,
                              status="invited", invited_by=user.id, invited_at=utcnow(),
                              invitation_message=_check_text(message))
    session.add(application)
    session.flush()
    company = service.company_for_user(session, user.id)
    notices.notify(session, [profile.user_id], "invitation", f"/applications/{application.id}",
                   company=company.name, mission=mission.title)
    log.info("application.invited", application_id=application.id, mission_id=mission.id)
    return application


def apply(session: Session, user: User, mission_id: int, *, message: str, rate: Decimal) -> Application:
    """Apply for an open mission with a message and a rate, on invitation or not."""
    profile = service.require_profile(session, user)
    mission = missions.get_visible_mission(session, user, mission_id)
    _require_open(mission)
    message = _check_text(message)
    if not message:
        raise InvalidInput("Write a message to the client.")
    if rate <= 0 or rate > service.MAX_HOURLY_RATE:
        raise InvalidInput("Invalid hourly rate {value}: write an amount between 1 and 1000 euros.", value=rate)

    application = _find(session, mission.id, profile.id)
    if application is None:
        application = Application(mission_id=mission.id, profile_id=profile.id, freelancer_user_id=user.id,
                                  status="applied")
    elif application.status == "invited":
        _move(application, "applied")
    else:
        raise AlreadyApplied()
    application.message = message
    application.proposed_rate = rate
    application.applied_at = utcnow()
    session.add(application)
    session.flush()
    notices.notify(session, service.company_member_ids(session, mission.company_id), "application",
                   f"/applications/{application.id}", freelancer=profile.name, mission=mission.title)
    log.info("application.applied", application_id=application.id, mission_id=mission.id)
    return application


def decline_invitation(session: Session, user: User, application_id: int) -> Application:
    application = get_freelancer_application(session, user, application_id)
    _move(application, "declined")
    application.decided_at = utcnow()
    session.add(application)
    mission = session.get(Mission, application.mission_id)
    if application.invited_by is not None:
        notices.notify(session, [application.invited_by], "invitation_declined", f"/missions/{mission.id}",
                       freelancer=user.name, mission=mission.title)
    return application


def withdraw(session: Session, user: User, application_id: int) -> Application:
    application = get_freelancer_application(session, user, application_id)
    _move(application, "withdrawn")
    application.decided_at = utcnow()
    session.add(application)
    return application


def set_shortlisted(session: Session, user: User, application_id: int, shortlisted: bool) -> Application:
    """Put a candidate on the mission's shortlist or take them off it."""
    application, mission = get_client_application(session, user, application_id)
    _move(application, "shortlisted" if shortlisted else "applied")
    application.shortlisted_at = utcnow() if shortlisted else None
    session.add(application)
    notices.notify(session, [application.freelancer_user_id], "shortlisted" if shortlisted else "unshortlisted",
                   f"/applications/{application.id}", mission=mission.title)
    log.info("application.shortlist_changed", application_id=application.id, shortlisted=shortlisted)
    return application


def reject(session: Session, user: User, application_id: int) -> Application:
    application, mission = get_client_application(session, user, application_id)
    _move(application, "rejected")
    application.decided_at = utcnow()
    session.add(application)
    company = session.get(Company, mission.company_id)
    notices.notify(session, [application.freelancer_user_id], "not_selected", f"/applications/{application.id}",
                   company=company.name, mission=mission.title)
    return application


@dataclass
class CheckInput:
    kind: str
    checked_with: str
    performed_on: date
    outcome: str
    notes: str = ""
    skill_name: str | None = None
    score: int | None = None


def record_check(session: Session, user: User, application_id: int, data: CheckInput) -> CandidateCheck:
    """Record a reference check or a skill test on a candidate, with who, when and the outcome."""
    application, _ = get_client_application(session, user, application_id)
    if application.status not in ("applied", "shortlisted"):
        raise ApplicationTransitionNotAllowed(current=APPLICATION_STATUS_LABELS[application.status],
                                              target=APPLICATION_STATUS_LABELS["shortlisted"])
    if data.kind not in CHECK_KINDS:
        raise InvalidInput("Unknown kind of check {value}.", value=data.kind)
    if data.outcome not in CHECK_OUTCOMES:
        raise InvalidInput("Unknown outcome {value}.", value=data.outcome)
    checked_with = data.checked_with.strip()
    if not checked_with or len(checked_with) > 200:
        raise InvalidInput("Write who gave the reference or ran the test.")
    if data.performed_on > today_brussels():
        raise InvalidInput("The date {value} is in the future.", value=data.performed_on.isoformat())
    skill_name, score = None, None
    if data.kind == "skill_test":
        skill_name = service.clean_skill_name(data.skill_name or "")
        if data.score is not None and not 0 <= data.score <= 100:
            raise InvalidInput("Invalid score {value}: write a number from 0 to 100.", value=data.score)
        score = data.score

    check = CandidateCheck(application_id=application.id, kind=data.kind, checked_with=checked_with,
                           performed_on=data.performed_on, outcome=data.outcome, skill_name=skill_name,
                           score=score, notes=_check_text(data.notes), recorded_by=user.id)
    session.add(check)
    session.flush()
    log.info("application.check_recorded", application_id=application.id, kind=data.kind)
    return check


def hire(session: Session, user: User, application_id: int):
    """Hire a shortlisted candidate: the mission is filled, the other candidacies end, and a
    contract is drafted for both parties to accept. Returns the contract."""
    from backend.contracts import service as contracts

    application, mission = get_client_application(session, user, application_id)
    if mission.status != "published":
        raise MissionNotOpen()
    _move(application, "accepted")
    application.decided_at = utcnow()
    session.add(application)

    company = session.get(Company, mission.company_id)
    for other in candidates(session, mission.id):
        if other.application.id != application.id and other.application.status in OPEN_APPLICATION_STATUSES:
            other.application.status = "rejected"
            other.application.decided_at = utcnow()
            session.add(other.application)
            notices.notify(session, [other.application.freelancer_user_id], "not_selected",
                           f"/applications/{other.application.id}", company=company.name, mission=mission.title)
    missions.apply_transition(session, mission, "filled")

    profile = session.get(FreelancerProfile, application.profile_id)
    offer = contracts.ContractOffer(
        mission_id=mission.id, application_id=application.id, company_id=company.id,
        freelancer_user_id=application.freelancer_user_id,
        client_name=company.name, client_enterprise_number=company.enterprise_number,
        client_address=f"{company.street}, {company.postal_code} {company.city}",
        freelancer_name=profile.name, mission_title=mission.title, mission_description=mission.description,
        hourly_rate=application.proposed_rate or profile.hourly_rate, hours_per_week=mission.hours_per_week,
        start_date=mission.start_date, end_date=missions.end_date(mission),
        language=user.language or "fr",
    )
    contract = contracts.create_contract(session, offer, party_user_ids=[
        *service.company_member_ids(session, company.id), application.freelancer_user_id])
    notices.notify(session, [application.freelancer_user_id], "hired", f"/contracts/{contract.id}",
                   company=company.name, mission=mission.title)
    log.info("application.hired", application_id=application.id, mission_id=mission.id, contract_id=contract.id)
    return contract


# Reading


def _find(session: Session, mission_id: int, profile_id: int) -> Application | None:
    return session.exec(select(Application).where(Application.mission_id == mission_id,
                                                  Application.profile_id == profile_id)).first()


def get_client_application(session: Session, user: User, application_id: int) -> tuple[Application, Mission]:
    """Return a candidacy for one of the user's company's missions, with the mission."""
    application = session.get(Application, application_id)
    if application is None:
        raise ApplicationNotFound(application_id=application_id)
    try:
        mission = missions.get_company_mission(session, user, application.mission_id)
    except MissionNotFound:
        raise ApplicationNotFound(application_id=application_id) from None
    return application, mission


def get_freelancer_application(session: Session, user: User, application_id: int) -> Application:
    application = session.get(Application, application_id)
    if application is None or application.freelancer_user_id != user.id:
        raise ApplicationNotFound(application_id=application_id)
    return application


def get_visible_application(session: Session, user: User, application_id: int) -> tuple[Application, Mission]:
    """Return a candidacy the user may read: the freelancer's own, or one for their company."""
    if user.role == "client":
        return get_client_application(session, user, application_id)
    application = get_freelancer_application(session, user, application_id)
    return application, session.get(Mission, application.mission_id)


@dataclass
class Candidate:
    application: Application
    profile: FreelancerProfile
    checks: list[CandidateCheck]


def candidates(session: Session, mission_id: int) -> list[Candidate]:
    applications = list(session.exec(select(Application).where(Application.mission_id == mission_id)
                                     .order_by(Application.id)).all())
    profiles = service.profiles_by_id(session, [application.profile_id for application in applications])
    checks = checks_by_application(session, [application.id for application in applications])
    return [Candidate(application, profiles[application.profile_id], checks.get(application.id, []))
            for application in applications]


def checks_by_application(session: Session, application_ids: list[int]) -> dict[int, list[CandidateCheck]]:
    result: dict[int, list[CandidateCheck]] = {}
    if application_ids:
        query = select(CandidateCheck).where(CandidateCheck.application_id.in_(application_ids)).order_by(
            CandidateCheck.performed_on, CandidateCheck.id)
        for check in session.exec(query).all():
            result.setdefault(check.application_id, []).append(check)
    return result


def freelancer_applications(session: Session, user: User) -> list[tuple[Application, Mission]]:
    applications = list(session.exec(select(Application).where(Application.freelancer_user_id == user.id)
                                     .order_by(Application.id.desc())).all())
    by_id = missions.missions_by_id(session, [application.mission_id for application in applications])
    return [(application, by_id[application.mission_id]) for application in applications]


def statuses_for_mission(session: Session, mission_id: int) -> dict[int, str]:
    """Return the candidacy status of each profile already invited to or applying for the mission."""
    rows = session.exec(select(Application.profile_id, Application.status).where(
        Application.mission_id == mission_id)).all()
    return dict(rows)

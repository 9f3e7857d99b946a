"""The marketplace's JSON API under /api. POST requests carry the session's CSRF token in the
X-CSRF-Token header; GET /api/me returns it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.marketplace import (
    applications,
    contacts,
    matching,
    missions,
    notices,
    regions,
    service,
)
from backend.marketplace.labels import APPLICATION_STATUS_LABELS, MISSION_STATUS_LABELS
from backend.marketplace.models import Application, CandidateCheck, FreelancerProfile, Mission
from backend.marketplace.schemas import (
    ApplicationIn,
    ApplicationOut,
    CheckIn,
    CheckOut,
    ContactOut,
    ExperienceOut,
    FittingMissionOut,
    HireOut,
    InvitationIn,
    MatchOut,
    Me,
    MissionIn,
    MissionOut,
    MissionSkillOut,
    NoticeOut,
    ProfileOut,
    ReasonOut,
    RecommendationOut,
    ShortlistIn,
    SkillOut,
    StatusChangeIn,
)
from backend.marketplace.views import Transaction
from backend.web.deps import current_user
from backend.web.security import csrf_token, verify_csrf

router = APIRouter(prefix="/api", tags=["marketplace"])


def _mission_out(session: Session, mission: Mission, gettext) -> MissionOut:
    return MissionOut(
        id=mission.id, title=mission.title, description=mission.description, status=mission.status,
        status_label=gettext(MISSION_STATUS_LABELS[mission.status]), work_mode=mission.work_mode,
        region=mission.region, start_date=mission.start_date, end_date=missions.end_date(mission),
        duration_weeks=mission.duration_weeks, hours_per_week=mission.hours_per_week, max_rate=mission.max_rate,
        budget=mission.budget, languages=missions.mission_languages(session, mission.id),
        skills=[MissionSkillOut(name=skill.name, min_level=skill.min_level, required=skill.required)
                for skill in missions.mission_skills(session, mission.id)],
    )


def _reasons_out(match: matching.Match, language: str) -> list[ReasonOut]:
    return [ReasonOut(criterion=reason.criterion, text=matching.render_reason(reason, language),
                      points=round(reason.points, 2), max_points=round(reason.max_points, 2))
            for reason in match.reasons]


def _application_out(session: Session, application: Application, mission: Mission, gettext,
                     checks: list[CandidateCheck] | None = None) -> ApplicationOut:
    profile = session.get(FreelancerProfile, application.profile_id)
    if checks is None:
        checks = applications.checks_by_application(session, [application.id]).get(application.id, [])
    return ApplicationOut(
        id=application.id, mission_id=mission.id, mission_title=mission.title, status=application.status,
        status_label=gettext(APPLICATION_STATUS_LABELS[application.status]), freelancer_name=profile.name,
        profile_slug=profile.slug, invitation_message=application.invitation_message, message=application.message,
        proposed_rate=application.proposed_rate, invited_at=application.invited_at,
        applied_at=application.applied_at, shortlisted_at=application.shortlisted_at,
        checks=[CheckOut.model_validate(check, from_attributes=True) for check in checks],
    )


def _profile_out(session: Session, profile: FreelancerProfile, gettext) -> ProfileOut:
    return ProfileOut(
        slug=profile.slug, name=profile.name, headline=profile.headline, summary=profile.summary,
        hourly_rate=profile.hourly_rate, available_from=profile.available_from,
        hours_per_week=profile.hours_per_week, region=profile.region,
        region_name=regions.region_name(profile.region, gettext), travel_km=profile.travel_km,
        travel_regions=profile.travel_regions, languages=service.profile_languages(session, profile.id),
        skills=[SkillOut(name=skill.name, level=skill.level) for skill in service.profile_skills(session, profile.id)],
        experiences=[
            ExperienceOut(
                id=view.experience.id, title=view.experience.title, organisation=view.experience.organisation,
                start_date=view.experience.start_date, end_date=view.experience.end_date,
                description=view.experience.description,
                recommendations=[RecommendationOut(author_name=item.author_name, text=item.text,
                                                   created_at=item.created_at) for item in view.recommendations])
            for view in service.experiences_with_recommendations(session, profile.id)
        ],
    )


@router.get("/me", response_model=Me)
def me(request: Request, user: User = Depends(current_user)) -> Me:
    return Me(id=user.id, name=user.name, role=user.role, language=request.state.language,
              csrf_token=csrf_token(request))


@router.get("/profile", response_model=ProfileOut)
def own_profile(request: Request, user: User = Depends(current_user),
                session: Session = Transaction) -> ProfileOut:
    return _profile_out(session, service.require_profile(session, user), request.state.gettext)


@router.get("/freelancers/{slug}", response_model=ProfileOut)
def public_profile(request: Request, slug: str, session: Session = Transaction) -> ProfileOut:
    return _profile_out(session, service.profile_by_slug(session, slug), request.state.gettext)


@router.get("/missions", response_model=list[MissionOut])
def list_missions(request: Request, user: User = Depends(current_user),
                  session: Session = Transaction) -> list[MissionOut]:
    """List the company's missions for a client, or the open missions for a freelancer."""
    if user.role == "client":
        found = missions.company_missions(session, service.require_company(session, user).id)
    else:
        found = missions.open_missions(session)
    return [_mission_out(session, mission, request.state.gettext) for mission in found]


@router.get("/missions/fitting", response_model=list[FittingMissionOut])
def fitting_missions(request: Request, user: User = Depends(current_user),
                     session: Session = Transaction) -> list[FittingMissionOut]:
    """List the open missions that fit the freelancer's profile, best first, with their reasons."""
    profile = service.require_profile(session, user)
    return [FittingMissionOut(mission=_mission_out(session, mission, request.state.gettext),
                              score=round(match.score, 2), reasons=_reasons_out(match, request.state.language))
            for mission, match in matching.missions_for_profile(session, profile)]


@router.post("/missions", response_model=MissionOut, status_code=201, dependencies=[Depends(verify_csrf)])
def create_mission(request: Request, body: MissionIn, user: User = Depends(current_user),
                   session: Session = Transaction) -> MissionOut:
    """Create a draft mission for the client's company."""
    data = missions.MissionInput(
        title=body.title, description=body.description, work_mode=body.work_mode, region=body.region,
        start_date=body.start_date, duration_weeks=body.duration_weeks, hours_per_week=body.hours_per_week,
        max_rate=service.parse_rate(body.max_rate) if body.max_rate is not None else None,
        budget=service.parse_rate(body.budget) if body.budget is not None else None, languages=body.languages,
        skills=[missions.SkillRequirement(skill.name, skill.min_level, skill.required) for skill in body.skills],
    )
    mission = missions.create_mission(session, user, data)
    return _mission_out(session, mission, request.state.gettext)


@router.get("/missions/{mission_id}", response_model=MissionOut)
def get_mission(request: Request, mission_id: int, user: User = Depends(current_user),
                session: Session = Transaction) -> MissionOut:
    return _mission_out(session, missions.get_visible_mission(session, user, mission_id), request.state.gettext)


@router.post("/missions/{mission_id}/status", response_model=MissionOut, dependencies=[Depends(verify_csrf)])
def change_status(request: Request, mission_id: int, body: StatusChangeIn, user: User = Depends(current_user),
                  session: Session = Transaction) -> MissionOut:
    mission = missions.change_status(session, user, mission_id, body.status)
    return _mission_out(session, mission, request.state.gettext)


@router.get("/missions/{mission_id}/matches", response_model=list[MatchOut])
def mission_matches(request: Request, mission_id: int, user: User = Depends(current_user),
                    session: Session = Transaction) -> list[MatchOut]:
    """List the mission's 20 best freelancers, best first, each with the reasons for its score."""
    mission = missions.get_company_mission(session, user, mission_id)
    matches = matching.matches_for_mission(session, mission)
    profiles = service.profiles_by_id(session, [match.profile_id for match in matches])
    statuses = applications.statuses_for_mission(session, mission.id)
    return [
        MatchOut(rank=rank, profile_slug=profiles[match.profile_id].slug, name=profiles[match.profile_id].name,
                 headline=profiles[match.profile_id].headline, hourly_rate=profiles[match.profile_id].hourly_rate,
                 score=round(match.score, 2), reasons=_reasons_out(match, request.state.language),
                 candidacy_status=statuses.get(match.profile_id))
        for rank, match in enumerate(matches, start=1)
    ]


@router.post("/missions/{mission_id}/invitations", response_model=ApplicationOut, status_code=201,
             dependencies=[Depends(verify_csrf)])
def invite(request: Request, mission_id: int, body: InvitationIn, user: User = Depends(current_user),
           session: Session = Transaction) -> ApplicationOut:
    profile = service.profile_by_slug(session, body.profile_slug)
    application = applications.invite(session, user, mission_id, profile.id, body.message)
    mission = missions.get_company_mission(session, user, mission_id)
    return _application_out(session, application, mission, request.state.gettext)


@router.post("/missions/{mission_id}/applications", response_model=ApplicationOut, status_code=201,
             dependencies=[Depends(verify_csrf)])
def apply(request: Request, mission_id: int, body: ApplicationIn, user: User = Depends(current_user),
          session: Session = Transaction) -> ApplicationOut:
    application = applications.apply(session, user, mission_id, message=body.message,
                                     rate=service.parse_rate(body.rate))
    mission = missions.get_visible_mission(session, user, mission_id)
    return _application_out(session, application, mission, request.state.gettext)


@router.get("/missions/{mission_id}/applications", response_model=list[ApplicationOut])
def mission_applications(request: Request, mission_id: int, user: User = Depends(current_user),
                         session: Session = Transaction) -> list[ApplicationOut]:
    mission = missions.get_company_mission(session, user, mission_id)
    return [_application_out(session, candidate.application, mission, request.state.gettext, candidate.checks)
            for candidate in applications.candidates(session, mission.id)]


@router.get("/applications/{application_id}", response_model=ApplicationOut)
def get_application(request: Request, application_id: int, user: User = Depends(current_user),
                    session: Session = Transaction) -> ApplicationOut:
    application, mission = applications.get_visible_application(session, user, application_id)
    return _application_out(session, application, mission, request.state.gettext)


@router.post("/applications/{application_id}/shortlist", response_model=ApplicationOut,
             dependencies=[Depends(verify_csrf)])
def shortlist(request: Request, application_id: int, body: ShortlistIn, user: User = Depends(current_user),
              session: Session = Transaction) -> ApplicationOut:
    application = applications.set_shortlisted(session, user, application_id, body.shortlisted)
    _, mission = applications.get_client_application(session, user, application.id)
    return _application_out(session, application, mission, request.state.gettext)


@router.post("/applications/{application_id}/checks", response_model=CheckOut, status_code=201,
             dependencies=[Depends(verify_csrf)])
def record_check(application_id: int, body: CheckIn, user: User = Depends(current_user),
                 session: Session = Transaction) -> CheckOut:
    check = applications.record_check(session, user, application_id, applications.CheckInput(**body.model_dump()))
    return CheckOut.model_validate(check, from_attributes=True)


@router.post("/applications/{application_id}/hire", response_model=HireOut, dependencies=[Depends(verify_csrf)])
def hire(request: Request, application_id: int, user: User = Depends(current_user),
         session: Session = Transaction) -> HireOut:
    """Hire a shortlisted candidate; returns the contract both parties now accept."""
    contract = applications.hire(session, user, application_id)
    application, mission = applications.get_client_application(session, user, application_id)
    return HireOut(application=_application_out(session, application, mission, request.state.gettext),
                   contract_id=contract.id)


@router.get("/notifications", response_model=list[NoticeOut])
def list_notifications(request: Request, user: User = Depends(current_user),
                       session: Session = Transaction) -> list[NoticeOut]:
    return [NoticeOut(id=notice.id, kind=notice.kind, text=notices.notice_text(notice, request.state.language),
                      link=notice.link, created_at=notice.created_at, read=notice.read_at is not None)
            for notice in notices.notices_for_user(session, user.id)]


@router.get("/network", response_model=list[ContactOut])
def list_network(user: User = Depends(current_user), session: Session = Transaction) -> list[ContactOut]:
    network = contacts.network(session, user)
    result = []
    for direction, entries in (("contact", network.contacts), ("incoming", network.incoming),
                               ("outgoing", network.outgoing)):
        result += [ContactOut(connection_id=entry.connection.id, user_id=entry.other.id, name=entry.other.name,
                              status=entry.connection.status, direction=direction,
                              profile_slug=entry.profile_slug, unread_messages=entry.unread)
                   for entry in entries]
    return result

"""Pages of missions, matches and candidacies."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.core.time import today_brussels
from backend.marketplace import applications, matching, missions, service
from backend.marketplace.labels import MISSION_STATUS_LABELS, gettext_noop
from backend.marketplace.models import CHECK_KINDS, CHECK_OUTCOMES, WORK_MODES
from backend.marketplace.views import Transaction, done, parse_day, parse_int
from backend.web.deps import current_user
from backend.web.security import verify_csrf
from backend.web.templating import render

router = APIRouter()

# Skill rows offered on the new-mission form; more can be added on the mission's page.
NEW_MISSION_SKILL_ROWS = 4


def _mission_input(*, title: str, description: str, work_mode: str, region: str, start_date: str,
                   duration_weeks: str, hours_per_week: str, rate_kind: str, amount: str,
                   languages: list[str], skills: list[missions.SkillRequirement] | None) -> missions.MissionInput:
    limit = service.parse_rate(amount) if amount.strip() else None
    if rate_kind not in ("max_rate", "budget"):
        raise InvalidInput("Choose a maximum hourly rate or a budget.")
    return missions.MissionInput(
        title=title, description=description, work_mode=work_mode, region=region or None,
        start_date=parse_day(start_date), duration_weeks=parse_int(duration_weeks),
        hours_per_week=parse_int(hours_per_week), max_rate=limit if rate_kind == "max_rate" else None,
        budget=limit if rate_kind == "budget" else None, languages=languages, skills=skills,
    )


@router.get("/missions", include_in_schema=False)
def missions_page(request: Request, q: str = "", user: User = Depends(current_user),
                  session: Session = Transaction):
    if user.role == "client":
        company = service.require_company(session, user)
        return render(request, "marketplace/missions_client.html", company=company,
                      missions=missions.company_missions(session, company.id))
    service.require_freelancer(user)
    profile = service.profile_for_user(session, user.id)
    fitting = matching.missions_for_profile(session, profile) if profile else []
    found = missions.search_open_missions(session, q) if q.strip() else []
    return render(request, "marketplace/missions_freelancer.html", profile=profile, fitting=fitting,
                  candidacies=applications.freelancer_applications(session, user), query=q, found=found)


@router.get("/missions/new", include_in_schema=False)
def new_mission_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    service.require_company(session, user)
    return render(request, "marketplace/mission_form.html", mission=None, languages_chosen=[],
                  skill_rows=range(NEW_MISSION_SKILL_ROWS), work_modes=WORK_MODES, today=today_brussels())


@router.post("/missions", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def create_mission(request: Request, title: str = Form(...), description: str = Form(""),
                   work_mode: str = Form(...), region: str = Form(""), start_date: str = Form(...),
                   duration_weeks: str = Form(...), hours_per_week: str = Form(...),
                   rate_kind: str = Form("max_rate"), amount: str = Form(""), languages: list[str] = Form([]),
                   skill_name: list[str] = Form([]), skill_level: list[str] = Form([]),
                   skill_kind: list[str] = Form([]), user: User = Depends(current_user),
                   session: Session = Transaction):
    skills = [
        missions.SkillRequirement(name=name, min_level=parse_int(level), required=kind != "optional")
        for name, level, kind in zip(skill_name, skill_level, skill_kind) if name.strip()
    ]
    data = _mission_input(title=title, description=description, work_mode=work_mode, region=region,
                          start_date=start_date, duration_weeks=duration_weeks, hours_per_week=hours_per_week,
                          rate_kind=rate_kind, amount=amount, languages=languages, skills=skills)
    mission = missions.create_mission(session, user, data)
    return done(request, "The mission is saved as a draft. Publish it when it is ready.",
                f"/missions/{mission.id}")


@router.get("/missions/{mission_id}", include_in_schema=False)
def mission_page(request: Request, mission_id: int, user: User = Depends(current_user),
                 session: Session = Transaction):
    mission = missions.get_visible_mission(session, user, mission_id)
    context = {"mission": mission, "skills": missions.mission_skills(session, mission.id),
               "languages_asked": missions.mission_languages(session, mission.id),
               "max_rate": missions.effective_max_rate(mission), "end_date": missions.end_date(mission)}
    if user.role == "client":
        return render(request, "marketplace/mission_client.html", **context,
                      transitions=sorted(missions.ALLOWED_TRANSITIONS[mission.status]),
                      editable=mission.status in missions.EDITABLE_STATUSES,
                      candidates=applications.candidates(session, mission.id))
    profile = service.profile_for_user(session, user.id)
    candidacy = None
    match = None
    if profile is not None:
        candidacy = next((application for application, _ in applications.freelancer_applications(session, user)
                          if application.mission_id == mission.id), None)
        match = matching.score_profile(matching.profiles_facts(session, [profile.id])[profile.id],
                                       matching.mission_facts(session, mission))
    return render(request, "marketplace/mission_freelancer.html", **context, profile=profile,
                  candidacy=candidacy, match=match, render_reason=matching.render_reason)


@router.get("/missions/{mission_id}/edit", include_in_schema=False)
def edit_mission_page(request: Request, mission_id: int, user: User = Depends(current_user),
                      session: Session = Transaction):
    mission = missions.get_company_mission(session, user, mission_id)
    return render(request, "marketplace/mission_form.html", mission=mission,
                  languages_chosen=missions.mission_languages(session, mission.id), skill_rows=range(0),
                  work_modes=WORK_MODES, today=today_brussels())


@router.post("/missions/{mission_id}/edit", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def update_mission(request: Request, mission_id: int, title: str = Form(...), description: str = Form(""),
                   work_mode: str = Form(...), region: str = Form(""), start_date: str = Form(...),
                   duration_weeks: str = Form(...), hours_per_week: str = Form(...),
                   rate_kind: str = Form("max_rate"), amount: str = Form(""), languages: list[str] = Form([]),
                   user: User = Depends(current_user), session: Session = Transaction):
    data = _mission_input(title=title, description=description, work_mode=work_mode, region=region,
                          start_date=start_date, duration_weeks=duration_weeks, hours_per_week=hours_per_week,
                          rate_kind=rate_kind, amount=amount, languages=languages, skills=None)
    missions.update_mission(session, user, mission_id, data)
    return done(request, "The mission is saved.", f"/missions/{mission_id}")


@router.post("/missions/{mission_id}/skills", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def add_mission_skill(request: Request, mission_id: int, name: str = Form(...), min_level: str = Form(...),
                      kind: str = Form("required"), user: User = Depends(current_user),
                      session: Session = Transaction):
    requirement = missions.SkillRequirement(name=name, min_level=parse_int(min_level), required=kind != "optional")
    skill = missions.set_mission_skill(session, user, mission_id, requirement)
    return done(request, "Skill {skill} saved.", f"/missions/{mission_id}#skills", skill=skill.name)


@router.post("/missions/{mission_id}/skills/{skill_id}/delete", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def delete_mission_skill(request: Request, mission_id: int, skill_id: int, user: User = Depends(current_user),
                         session: Session = Transaction):
    missions.remove_mission_skill(session, user, mission_id, skill_id)
    return done(request, "Skill removed.", f"/missions/{mission_id}#skills")


@router.post("/missions/{mission_id}/status", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def change_mission_status(request: Request, mission_id: int, target: str = Form(...),
                          user: User = Depends(current_user), session: Session = Transaction):
    mission = missions.change_status(session, user, mission_id, target)
    label = request.state.gettext(MISSION_STATUS_LABELS[mission.status])
    return done(request, "The mission is now “{status}”.", f"/missions/{mission_id}", status=label)


@router.get("/missions/{mission_id}/matches", include_in_schema=False)
def matches_page(request: Request, mission_id: int, user: User = Depends(current_user),
                 session: Session = Transaction):
    mission = missions.get_company_mission(session, user, mission_id)
    matches = matching.matches_for_mission(session, mission)
    return render(request, "marketplace/matches.html", mission=mission, matches=matches,
                  profiles=service.profiles_by_id(session, [match.profile_id for match in matches]),
                  statuses=applications.statuses_for_mission(session, mission.id),
                  render_reason=matching.render_reason, open=mission.status in missions.OPEN_STATUSES)


@router.post("/missions/{mission_id}/invitations", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def invite(request: Request, mission_id: int, profile_id: int = Form(...), message: str = Form(""),
           user: User = Depends(current_user), session: Session = Transaction):
    applications.invite(session, user, mission_id, profile_id, message)
    profile = service.profiles_by_id(session, [profile_id])[profile_id]
    return done(request, "{name} is invited to apply.", f"/missions/{mission_id}/matches#profile-{profile_id}",
                name=profile.name)


@router.post("/missions/{mission_id}/applications", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def apply(request: Request, mission_id: int, message: str = Form(...), rate: str = Form(...),
          user: User = Depends(current_user), session: Session = Transaction):
    application = applications.apply(session, user, mission_id, message=message, rate=service.parse_rate(rate))
    return done(request, "Your application is sent.", f"/applications/{application.id}")


@router.get("/applications/{application_id}", include_in_schema=False)
def application_page(request: Request, application_id: int, user: User = Depends(current_user),
                     session: Session = Transaction):
    application, mission = applications.get_visible_application(session, user, application_id)
    profile = service.profiles_by_id(session, [application.profile_id])[application.profile_id]
    checks = applications.checks_by_application(session, [application.id]).get(application.id, [])
    template = "marketplace/application_client.html" if user.role == "client" else \
        "marketplace/application_freelancer.html"
    return render(request, template, application=application, mission=mission, profile=profile, checks=checks,
                  check_kinds=CHECK_KINDS, check_outcomes=CHECK_OUTCOMES, today=today_brussels(),
                  mission_open=mission.status in missions.OPEN_STATUSES)


@router.post("/applications/{application_id}/shortlist", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def shortlist(request: Request, application_id: int, shortlisted: bool = Form(...),
              user: User = Depends(current_user), session: Session = Transaction):
    applications.set_shortlisted(session, user, application_id, shortlisted)
    message = gettext_noop("Added to the shortlist.") if shortlisted else gettext_noop("Taken off the shortlist.")
    return done(request, message, f"/applications/{application_id}")


@router.post("/applications/{application_id}/reject", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def reject(request: Request, application_id: int, user: User = Depends(current_user),
           session: Session = Transaction):
    applications.reject(session, user, application_id)
    return done(request, "The candidate is told that you chose someone else.", f"/applications/{application_id}")


@router.post("/applications/{application_id}/checks", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def record_check(request: Request, application_id: int, kind: str = Form(...), checked_with: str = Form(...),
                 performed_on: str = Form(...), outcome: str = Form(...), notes: str = Form(""),
                 skill_name: str = Form(""), score: str = Form(""), user: User = Depends(current_user),
                 session: Session = Transaction):
    data = applications.CheckInput(kind=kind, checked_with=checked_with, performed_on=parse_day(performed_on),
                                   outcome=outcome, notes=notes, skill_name=skill_name or None,
                                   score=parse_int(score) if score.strip() else None)
    applications.record_check(session, user, application_id, data)
    return done(request, "The check is recorded.", f"/applications/{application_id}#checks")


@router.post("/applications/{application_id}/hire", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def hire(request: Request, application_id: int, user: User = Depends(current_user),
         session: Session = Transaction):
    contract = applications.hire(session, user, application_id)
    return done(request, "The contract is ready. Read it, then accept it.", f"/contracts/{contract.id}")


@router.post("/applications/{application_id}/decline", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def decline(request: Request, application_id: int, user: User = Depends(current_user),
            session: Session = Transaction):
    applications.decline_invitation(session, user, application_id)
    return done(request, "You declined the invitation.", "/missions")


@router.post("/applications/{application_id}/withdraw", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def withdraw(request: Request, application_id: int, user: User = Depends(current_user),
             session: Session = Transaction):
    applications.withdraw(session, user, application_id)
    return done(request, "You withdrew your application.", "/missions")

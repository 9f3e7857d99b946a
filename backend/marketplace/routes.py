"""Pages of freelancer profiles and client companies; the marketplace's other pages and its
JSON API are included from their own modules."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse
from sqlmodel import Session

from backend.accounts.models import User
from backend.core.time import today_brussels
from backend.marketplace import api, contacts, mission_routes, network_routes, service
from backend.marketplace.errors import ExperienceNotFound
from backend.marketplace.views import (
    Transaction,
    done,
    parse_day,
    parse_int,
    register_template_globals,
)
from backend.web.deps import current_user
from backend.web.security import verify_csrf
from backend.web.templating import render

register_template_globals()

router = APIRouter()
router.include_router(mission_routes.router)
router.include_router(network_routes.router)
router.include_router(api.router)

STYLESHEET = Path(__file__).resolve().parent / "static" / "marketplace.css"


@router.get("/assets/marketplace.css", include_in_schema=False)
def stylesheet() -> FileResponse:
    return FileResponse(STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


# Freelancer profile


@router.get("/profile", include_in_schema=False)
def profile_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    service.require_freelancer(user)
    profile = service.profile_for_user(session, user.id)
    return render(
        request, "marketplace/profile_edit.html", profile=profile,
        skills=service.profile_skills(session, profile.id) if profile else [],
        spoken=service.profile_languages(session, profile.id) if profile else [],
        experiences=service.experiences_with_recommendations(session, profile.id) if profile else [],
        today=today_brussels(),
    )


@router.post("/profile", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def save_profile(request: Request, name: str = Form(...), headline: str = Form(""), summary: str = Form(""),
                 hourly_rate: str = Form(...), available_from: str = Form(...), hours_per_week: str = Form(...),
                 region: str = Form(...), travel_km: str = Form("0"), travel_regions: list[str] = Form([]),
                 languages: list[str] = Form([]), enterprise_number: str = Form(""), published: bool = Form(False),
                 user: User = Depends(current_user), session: Session = Transaction):
    data = service.ProfileInput(
        name=name, headline=headline, summary=summary, hourly_rate=service.parse_rate(hourly_rate),
        available_from=parse_day(available_from), hours_per_week=parse_int(hours_per_week), region=region,
        travel_km=parse_int(travel_km, default=0), travel_regions=travel_regions, languages=languages,
        published=published, enterprise_number=enterprise_number.strip() or None,
    )
    service.save_profile(session, user, data)
    return done(request, "Your profile is saved.", "/profile")


@router.post("/profile/skills", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def add_skill(request: Request, name: str = Form(...), level: str = Form(...),
              user: User = Depends(current_user), session: Session = Transaction):
    profile = service.require_profile(session, user)
    skill = service.set_skill(session, profile, name=name, level=parse_int(level))
    return done(request, "Skill {skill} saved.", "/profile#skills", skill=skill.name)


@router.post("/profile/skills/{skill_id}/delete", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def delete_skill(request: Request, skill_id: int, user: User = Depends(current_user),
                 session: Session = Transaction):
    service.remove_skill(session, service.require_profile(session, user), skill_id)
    return done(request, "Skill removed.", "/profile#skills")


@router.post("/profile/experiences", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def add_experience(request: Request, title: str = Form(...), organisation: str = Form(...),
                   start_date: str = Form(...), end_date: str = Form(""), description: str = Form(""),
                   user: User = Depends(current_user), session: Session = Transaction):
    profile = service.require_profile(session, user)
    service.add_experience(session, profile, title=title, organisation=organisation,
                           start_date=parse_day(start_date), end_date=parse_day(end_date, required=False),
                           description=description)
    return done(request, "Experience added.", "/profile#experiences")


@router.post("/profile/experiences/{experience_id}/delete", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def delete_experience(request: Request, experience_id: int, user: User = Depends(current_user),
                      session: Session = Transaction):
    service.remove_experience(session, service.require_profile(session, user), experience_id)
    return done(request, "Experience removed.", "/profile#experiences")


@router.get("/freelancers/{slug}", include_in_schema=False)
def public_profile(request: Request, slug: str, session: Session = Transaction):
    """Show a freelancer's public page to anyone, logged in or not."""
    profile = service.profile_by_slug(session, slug)
    viewer = getattr(request.state, "user", None)
    connection = None
    if viewer is not None and viewer.id != profile.user_id:
        connection = contacts.connection_between(session, viewer.id, profile.user_id)
    return render(
        request, "marketplace/profile_public.html", profile=profile,
        skills=service.profile_skills(session, profile.id), spoken=service.profile_languages(session, profile.id),
        experiences=service.experiences_with_recommendations(session, profile.id), connection=connection,
        is_own=viewer is not None and viewer.id == profile.user_id,
        can_connect=viewer is not None and viewer.id != profile.user_id and connection is None,
        can_recommend=connection is not None and connection.status == "accepted",
    )


@router.post("/freelancers/{slug}/experiences/{experience_id}/recommend", dependencies=[Depends(verify_csrf)],
             include_in_schema=False)
def recommend(request: Request, slug: str, experience_id: int, text: str = Form(...),
              user: User = Depends(current_user), session: Session = Transaction):
    profile = service.profile_by_slug(session, slug)
    experience = service.get_experience(session, experience_id)
    if experience.profile_id != profile.id:
        raise ExperienceNotFound(experience_id=experience_id)
    contacts.recommend_experience(session, user, experience.id, text)
    return done(request, "Thank you: your recommendation is on the profile.", f"/freelancers/{slug}")


# Client company


@router.get("/company", include_in_schema=False)
def company_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    service.require_client(user)
    company = service.company_for_user(session, user.id)
    users = service.company_users(session, company.id) if company else []
    return render(request, "marketplace/company.html", company=company, members=users)


@router.post("/company", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def save_company(request: Request, name: str = Form(...), enterprise_number: str = Form(""),
                 street: str = Form(...), postal_code: str = Form(...), city: str = Form(...),
                 user: User = Depends(current_user), session: Session = Transaction):
    service.require_client(user)
    company = service.company_for_user(session, user.id)
    if company is None:
        service.create_company(session, user, name=name, enterprise_number=enterprise_number, street=street,
                               postal_code=postal_code, city=city)
    else:
        service.update_company(session, company, name=name, street=street, postal_code=postal_code, city=city)
    return done(request, "Your company's details are saved.", "/company")


@router.post("/company/colleagues", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def add_colleague(request: Request, name: str = Form(...), email: str = Form(...), password: str = Form(...),
                  user: User = Depends(current_user), session: Session = Transaction):
    company = service.require_company(session, user)
    colleague = service.add_colleague(session, company, name=name, email=email, password=password)
    return done(request, "{name} can now log in and work on your company's missions.", "/company",
                name=colleague.name)

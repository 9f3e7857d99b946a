"""Builders of clients, freelancers and missions for tests, through the services."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from backend.accounts import service as accounts
from backend.accounts.models import User
from backend.marketplace import missions, service
from backend.marketplace.models import FreelancerProfile, Mission
from backend.marketplace.seed import enterprise_number

PASSWORD = "correct-horse-battery"
_numbers = random.Random(7)


def make_client(session: Session, email: str, *, company: str = "Brabo Logistics NV",
                language: str | None = "en") -> User:
    user = accounts.sign_up(session, email=email, name=f"{company} buyer", password=PASSWORD, role="client",
                            language=language)
    service.create_company(session, user, name=company, enterprise_number=enterprise_number(_numbers),
                           street="Kerkstraat 12", postal_code="2000", city="Antwerpen")
    return user


def make_freelancer(session: Session, email: str, name: str, *, skills: dict[str, int],
                    rate: str = "80.00", region: str = "BE-VAN", travel_km: int = 0,
                    travel_regions: tuple[str, ...] = (), languages: tuple[str, ...] = ("nl", "en"),
                    available_from: date = date(2030, 1, 1), hours: int = 40, published: bool = True,
                    language: str | None = "en") -> tuple[User, FreelancerProfile]:
    user = accounts.sign_up(session, email=email, name=name, password=PASSWORD, language=language)
    profile = service.save_profile(session, user, service.ProfileInput(
        name=name, headline=f"{name}, freelancer", summary="", hourly_rate=Decimal(rate),
        available_from=available_from, hours_per_week=hours, region=region, travel_km=travel_km,
        travel_regions=list(travel_regions), languages=list(languages), published=published))
    for skill, level in skills.items():
        service.set_skill(session, profile, name=skill, level=level)
    return user, profile


def make_mission(session: Session, client: User, *, title: str = "Data platform",
                 skills: tuple[tuple[str, int, bool], ...] = (("Python", 3, True),),
                 languages: tuple[str, ...] = ("nl",), work_mode: str = "onsite", region: str | None = "BE-VAN",
                 start: date = date(2030, 3, 4), weeks: int = 8, hours: int = 32,
                 max_rate: str | None = "90.00", budget: str | None = None, publish: bool = True) -> Mission:
    mission = missions.create_mission(session, client, missions.MissionInput(
        title=title, description="", work_mode=work_mode, region=region, start_date=start,
        duration_weeks=weeks, hours_per_week=hours, max_rate=Decimal(max_rate) if max_rate else None,
        budget=Decimal(budget) if budget else None, languages=list(languages),
        skills=[missions.SkillRequirement(name, level, required) for name, level, required in skills]))
    if publish:
        missions.change_status(session, client, mission.id, "published")
    return mission


def cheap_password_hashing(monkeypatch) -> None:
    """Hash passwords with the smallest Argon2 cost: tests sign up dozens of users, and the
    production cost takes a tenth of a second each."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def hire_for(session: Session, *, start: date, rate: str = "80.00", weeks: int = 4, hours: int = 38,
             language: str | None = "en"):
    """Return (client, freelancer, contract): a freelancer hired on a new mission, contract not yet accepted."""
    from backend.marketplace import applications

    client = make_client(session, "buyer@schelde.example", language=language)
    freelancer, _ = make_freelancer(session, "lien@example.be", "Lien Peeters", skills={"Python": 5},
                                    available_from=start, language=language)
    mission = make_mission(session, client, title="Data platform", start=start, weeks=weeks, hours=hours)
    application = applications.apply(session, freelancer, mission.id, message="Hello", rate=Decimal(rate))
    applications.set_shortlisted(session, client, application.id, True)
    contract = applications.hire(session, client, application.id)
    return client, freelancer, contract

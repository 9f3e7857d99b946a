"""Client companies and freelancer profiles: the marketplace's parties.

Contacts, missions, matching and applications live in their own modules of this package.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import structlog
from babel import Locale
from sqlmodel import Session, delete, select
from stdnum.be import vat as be_vat
from stdnum.exceptions import ValidationError

from backend.accounts.models import User
from backend.core.errors import InvalidInput
from backend.core.time import utcnow
from backend.marketplace import regions
from backend.marketplace.errors import (
    ClientsOnly,
    CompanyMissing,
    EnterpriseNumberTaken,
    ExperienceNotFound,
    FreelancersOnly,
    InvalidEnterpriseNumber,
    ProfileMissing,
    ProfileNotFound,
    SkillNotFound,
)
from backend.marketplace.models import (
    SKILL_LEVELS,
    Company,
    CompanyMember,
    Experience,
    FreelancerProfile,
    ProfileLanguage,
    ProfileReach,
    ProfileSkill,
    Recommendation,
)
from backend.web.i18n import LOCALES

log = structlog.get_logger(__name__)

# Languages a freelancer can list or a mission can ask for, as ISO 639-1 codes.
WORK_LANGUAGES = ("fr", "nl", "en", "de", "es", "it", "pt", "pl", "ar", "tr")
MAX_HOURLY_RATE = Decimal("1000.00")
MAX_HOURS_PER_WEEK = 80
BELGIAN_POSTAL_CODE = re.compile(r"^[1-9]\d{3}$")


def language_name(code: str, in_language: str, *, capitalized: bool = False) -> str:
    """Return a language's name as written in a sentence of ``in_language`` ("néerlandais", "Dutch")."""
    name = Locale.parse(code).get_display_name(LOCALES[in_language]) or code
    return name[:1].upper() + name[1:] if capitalized else name


def require_freelancer(user: User) -> None:
    if user.role != "freelancer":
        raise FreelancersOnly()


def require_client(user: User) -> None:
    if user.role != "client":
        raise ClientsOnly()


def skill_key(name: str) -> str:
    """Return the key that matching compares: case-folded, with single spaces.

    NOTE: skills match by name only, so "Boekhouding" and "Comptabilité" are two skills.
    A shared list of skills with translated names would link them.
    """
    return " ".join(name.casefold().split())


def clean_skill_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 80:
        raise InvalidInput("Invalid skill name: write 1 to 80 characters.")
    return cleaned


def check_level(level: int) -> int:
    if level not in SKILL_LEVELS:
        raise InvalidInput("Invalid level {level}: choose a level from 1 to 5.", level=level)
    return level


def parse_rate(raw: str | Decimal) -> Decimal:
    """Parse an amount in euros with at most two decimals; a comma is accepted as the decimal mark."""
    try:
        value = Decimal(str(raw).strip().replace(",", ".").replace("€", "").strip())
    except InvalidOperation:
        raise InvalidInput("Invalid amount {value}: write euros and cents, such as 85.50.", value=raw) from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise InvalidInput("Invalid amount {value}: write euros and cents, such as 85.50.", value=raw)
    return value.quantize(Decimal("0.01"))


def check_languages(codes: list[str]) -> list[str]:
    unique = list(dict.fromkeys(codes))
    unknown = [code for code in unique if code not in WORK_LANGUAGES]
    if unknown:
        raise InvalidInput("Unknown language {language}.", language=unknown[0])
    return unique


def check_region(code: str | None) -> str:
    if code not in regions.REGION_NAMES:
        raise InvalidInput("Unknown region {region}: choose a province or Brussels.", region=code)
    return code


# Companies


def validate_enterprise_number(raw: str) -> str:
    """Return the 10 digits of a Belgian enterprise number, checked with python-stdnum."""
    try:
        return be_vat.validate(raw)
    except ValidationError:
        raise InvalidEnterpriseNumber(value=raw) from None


def format_enterprise_number(number: str) -> str:
    return f"{number[:4]}.{number[4:7]}.{number[7:]}"


def _check_address(street: str, postal_code: str, city: str) -> tuple[str, str, str]:
    street, postal_code, city = street.strip(), postal_code.strip(), city.strip()
    if not street or not city:
        raise InvalidInput("The address is incomplete: write the street, number, postal code and city.")
    if not BELGIAN_POSTAL_CODE.match(postal_code):
        raise InvalidInput("Invalid postal code {value}: a Belgian postal code has 4 digits.", value=postal_code)
    return street, postal_code, city


def create_company(session: Session, user: User, *, name: str, enterprise_number: str, street: str,
                   postal_code: str, city: str) -> Company:
    """Create a client company with ``user`` as its first member."""
    require_client(user)
    name = name.strip()
    if not name:
        raise InvalidInput("The company name is missing.")
    number = validate_enterprise_number(enterprise_number)
    street, postal_code, city = _check_address(street, postal_code, city)
    if session.exec(select(Company).where(Company.enterprise_number == number)).first() is not None:
        raise EnterpriseNumberTaken(value=format_enterprise_number(number))
    if company_for_user(session, user.id) is not None:
        raise InvalidInput("Your account already belongs to a company.")

    company = Company(name=name, enterprise_number=number, street=street, postal_code=postal_code, city=city)
    session.add(company)
    session.flush()
    session.add(CompanyMember(company_id=company.id, user_id=user.id))
    session.flush()
    log.info("company.created", company_id=company.id, user_id=user.id)
    return company


def update_company(session: Session, company: Company, *, name: str, street: str, postal_code: str,
                   city: str) -> Company:
    name = name.strip()
    if not name:
        raise InvalidInput("The company name is missing.")
    company.name = name
    company.street, company.postal_code, company.city = _check_address(street, postal_code, city)
    session.add(company)
    return company


def company_for_user(session: Session, user_id: int) -> Company | None:
    query = select(Company).join(CompanyMember, CompanyMember.company_id == Company.id).where(
        CompanyMember.user_id == user_id)
    return session.exec(query).first()


def require_company(session: Session, user: User) -> Company:
    require_client(user)
    company = company_for_user(session, user.id)
    if company is None:
        raise CompanyMissing()
    return company


def company_member_ids(session: Session, company_id: int) -> list[int]:
    query = select(CompanyMember.user_id).where(CompanyMember.company_id == company_id).order_by(
        CompanyMember.user_id)
    return list(session.exec(query).all())


def company_users(session: Session, company_id: int) -> list[User]:
    query = select(User).join(CompanyMember, CompanyMember.user_id == User.id).where(
        CompanyMember.company_id == company_id).order_by(User.name)
    return list(session.exec(query).all())


def add_colleague(session: Session, company: Company, *, name: str, email: str, password: str,
                  language: str | None = None) -> User:
    """Create a client account for a colleague and add it to the company."""
    from backend.accounts import service as accounts

    colleague = accounts.sign_up(session, email=email, name=name, password=password, language=language,
                                 role="client")
    session.add(CompanyMember(company_id=company.id, user_id=colleague.id))
    session.flush()
    log.info("company.member_added", company_id=company.id, user_id=colleague.id)
    return colleague


# Freelancer profiles


@dataclass
class ProfileInput:
    name: str
    headline: str
    summary: str
    hourly_rate: Decimal
    available_from: date
    hours_per_week: int
    region: str
    travel_km: int = 0
    travel_regions: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    published: bool = True
    enterprise_number: str | None = None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60] or "freelancer"


def _unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    taken = set(session.exec(select(FreelancerProfile.slug).where(FreelancerProfile.slug.startswith(base))).all())
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _check_profile_input(data: ProfileInput) -> None:
    if not data.name.strip():
        raise InvalidInput("The name is missing.")
    if len(data.headline) > 200:
        raise InvalidInput("The headline is too long: write at most 200 characters.")
    if data.hourly_rate <= 0 or data.hourly_rate > MAX_HOURLY_RATE:
        raise InvalidInput("Invalid hourly rate {value}: write an amount between 1 and 1000 euros.",
                           value=data.hourly_rate)
    if not 1 <= data.hours_per_week <= MAX_HOURS_PER_WEEK:
        raise InvalidInput("Invalid hours per week {value}: write a number from 1 to 80.",
                           value=data.hours_per_week)
    check_region(data.region)
    for code in data.travel_regions:
        check_region(code)
    if not 0 <= data.travel_km <= regions.MAX_TRAVEL_KM:
        raise InvalidInput("Invalid travel distance {value}: write a number of km from 0 to 300.",
                           value=data.travel_km)
    if not data.languages:
        raise InvalidInput("Choose at least one language you work in.")
    check_languages(data.languages)


def save_profile(session: Session, user: User, data: ProfileInput) -> FreelancerProfile:
    """Create or update the freelancer's profile, its languages and the regions it reaches."""
    require_freelancer(user)
    _check_profile_input(data)

    profile = profile_for_user(session, user.id)
    if profile is None:
        profile = FreelancerProfile(user_id=user.id, slug=_unique_slug(session, data.name), name=data.name,
                                    hourly_rate=data.hourly_rate, available_from=data.available_from,
                                    region=data.region)
    profile.name = data.name.strip()
    profile.enterprise_number = validate_enterprise_number(data.enterprise_number) if data.enterprise_number else None
    profile.headline = data.headline.strip()
    profile.summary = data.summary.strip()
    profile.hourly_rate = data.hourly_rate
    profile.available_from = data.available_from
    profile.hours_per_week = data.hours_per_week
    profile.region = data.region
    profile.travel_km = data.travel_km
    profile.travel_regions = sorted(set(data.travel_regions) - {data.region})
    profile.published = data.published
    profile.updated_at = utcnow()
    session.add(profile)
    session.flush()

    session.exec(delete(ProfileLanguage).where(ProfileLanguage.profile_id == profile.id))
    for code in check_languages(data.languages):
        session.add(ProfileLanguage(profile_id=profile.id, language=code))
    session.exec(delete(ProfileReach).where(ProfileReach.profile_id == profile.id))
    for region in sorted(regions.reachable_regions(profile.region, profile.travel_km, profile.travel_regions)):
        session.add(ProfileReach(profile_id=profile.id, region=region))
    session.flush()
    log.info("profile.saved", profile_id=profile.id, user_id=user.id)
    return profile


def profile_for_user(session: Session, user_id: int) -> FreelancerProfile | None:
    return session.exec(select(FreelancerProfile).where(FreelancerProfile.user_id == user_id)).first()


def require_profile(session: Session, user: User) -> FreelancerProfile:
    require_freelancer(user)
    profile = profile_for_user(session, user.id)
    if profile is None:
        raise ProfileMissing()
    return profile


def profile_by_slug(session: Session, slug: str) -> FreelancerProfile:
    profile = session.exec(select(FreelancerProfile).where(FreelancerProfile.slug == slug)).first()
    if profile is None or not profile.published:
        raise ProfileNotFound()
    return profile


def profile_skills(session: Session, profile_id: int) -> list[ProfileSkill]:
    query = select(ProfileSkill).where(ProfileSkill.profile_id == profile_id).order_by(
        ProfileSkill.level.desc(), ProfileSkill.name)
    return list(session.exec(query).all())


def profile_languages(session: Session, profile_id: int) -> list[str]:
    query = select(ProfileLanguage.language).where(ProfileLanguage.profile_id == profile_id)
    spoken = set(session.exec(query).all())
    return [code for code in WORK_LANGUAGES if code in spoken]


def set_skill(session: Session, profile: FreelancerProfile, *, name: str, level: int) -> ProfileSkill:
    """Add a skill to the profile, or change its level if the profile lists it already."""
    name = clean_skill_name(name)
    check_level(level)
    key = skill_key(name)
    skill = session.exec(select(ProfileSkill).where(ProfileSkill.profile_id == profile.id,
                                                    ProfileSkill.skill_key == key)).first()
    if skill is None:
        skill = ProfileSkill(profile_id=profile.id, skill_key=key, name=name, level=level)
    skill.name = name
    skill.level = level
    session.add(skill)
    session.flush()
    return skill


def remove_skill(session: Session, profile: FreelancerProfile, skill_id: int) -> None:
    skill = session.get(ProfileSkill, skill_id)
    if skill is None or skill.profile_id != profile.id:
        raise SkillNotFound(skill_id=skill_id)
    session.delete(skill)


def add_experience(session: Session, profile: FreelancerProfile, *, title: str, organisation: str,
                   start_date: date, end_date: date | None, description: str) -> Experience:
    title, organisation = title.strip(), organisation.strip()
    if not title or not organisation:
        raise InvalidInput("Write the role and the organisation of the experience.")
    if end_date is not None and end_date < start_date:
        raise InvalidInput("The experience ends before it starts: check the dates.")
    experience = Experience(profile_id=profile.id, title=title, organisation=organisation,
                            start_date=start_date, end_date=end_date, description=description.strip())
    session.add(experience)
    session.flush()
    return experience


def remove_experience(session: Session, profile: FreelancerProfile, experience_id: int) -> None:
    experience = session.get(Experience, experience_id)
    if experience is None or experience.profile_id != profile.id:
        raise ExperienceNotFound(experience_id=experience_id)
    session.exec(delete(Recommendation).where(Recommendation.experience_id == experience.id))
    session.delete(experience)


@dataclass
class ExperienceView:
    experience: Experience
    recommendations: list[Recommendation]


def experiences_with_recommendations(session: Session, profile_id: int) -> list[ExperienceView]:
    experiences = list(session.exec(select(Experience).where(Experience.profile_id == profile_id).order_by(
        Experience.start_date.desc())).all())
    ids = [experience.id for experience in experiences]
    by_experience: dict[int, list[Recommendation]] = {experience_id: [] for experience_id in ids}
    if ids:
        query = select(Recommendation).where(Recommendation.experience_id.in_(ids)).order_by(Recommendation.id)
        for recommendation in session.exec(query).all():
            by_experience[recommendation.experience_id].append(recommendation)
    return [ExperienceView(experience, by_experience[experience.id]) for experience in experiences]


def get_experience(session: Session, experience_id: int) -> Experience:
    experience = session.get(Experience, experience_id)
    if experience is None:
        raise ExperienceNotFound(experience_id=experience_id)
    return experience


def profiles_by_id(session: Session, profile_ids: list[int]) -> dict[int, FreelancerProfile]:
    if not profile_ids:
        return {}
    query = select(FreelancerProfile).where(FreelancerProfile.id.in_(profile_ids))
    return {profile.id: profile for profile in session.exec(query).all()}

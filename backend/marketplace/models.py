"""Companies, freelancer profiles, contacts, missions, applications and in-app notices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.core.money import DecimalAmount
from backend.core.time import UTCDateTime, utcnow

SKILL_LEVELS = (1, 2, 3, 4, 5)
WORK_MODES = ("onsite", "hybrid", "remote")
MISSION_STATUSES = ("draft", "published", "paused", "filled", "closed")
APPLICATION_STATUSES = ("invited", "applied", "shortlisted", "accepted", "rejected", "declined", "withdrawn")
CHECK_KINDS = ("reference", "skill_test")
CHECK_OUTCOMES = ("positive", "mixed", "negative")
CONNECTION_STATUSES = ("pending", "accepted", "declined")


class Company(SQLModel, table=True):
    """A client company. Its users (client accounts) are its members."""

    __tablename__ = "companies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Ten digits, without dots or the BE prefix.
    enterprise_number: str = Field(sa_column=sa.Column(sa.String(10), unique=True, nullable=False))
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=4)
    city: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CompanyMember(SQLModel, table=True):
    __tablename__ = "company_members"

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    # A client account belongs to one company.
    user_id: int = Field(sa_column=sa.Column(sa.ForeignKey("users.id"), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FreelancerProfile(SQLModel, table=True):
    __tablename__ = "freelancer_profiles"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.ForeignKey("users.id"), unique=True, nullable=False))
    slug: str = Field(sa_column=sa.Column(sa.String(80), unique=True, nullable=False))
    name: str = Field(max_length=200)
    # The freelancer's own enterprise number, ten digits, written on contracts when given.
    enterprise_number: str | None = Field(default=None, max_length=10)
    headline: str = Field(default="", max_length=200)
    summary: str = Field(default="", sa_type=sa.Text)
    hourly_rate: Decimal = Field(sa_type=DecimalAmount)
    available_from: date
    hours_per_week: int = 40
    # ISO 3166-2:BE code of the province, or BE-BRU for the Brussels-Capital Region.
    region: str = Field(max_length=6)
    # Maximum travel distance in km, counted between province capitals.
    travel_km: int = 0
    # Regions the freelancer also works in, whatever the distance.
    travel_regions: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    published: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProfileSkill(SQLModel, table=True):
    __tablename__ = "profile_skills"
    __table_args__ = (
        sa.UniqueConstraint("profile_id", "skill_key", name="uq_profile_skills_profile_skill"),
        # Matching reads the skill rows of a mission's skills, then their profiles.
        sa.Index("ix_profile_skills_skill_level_profile", "skill_key", "level", "profile_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="freelancer_profiles.id", ondelete="CASCADE")
    # Case-folded name with single spaces: the key that matching compares.
    skill_key: str = Field(max_length=80)
    name: str = Field(max_length=80)
    level: int


class ProfileLanguage(SQLModel, table=True):
    __tablename__ = "profile_languages"
    __table_args__ = (
        sa.UniqueConstraint("profile_id", "language", name="uq_profile_languages_profile_language"),
        sa.Index("ix_profile_languages_language_profile", "language", "profile_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="freelancer_profiles.id", ondelete="CASCADE")
    language: str = Field(max_length=2)


class ProfileReach(SQLModel, table=True):
    """A region a freelancer works in on site: home, chosen, or within the travel distance.

    Derived from the profile on every save, so that matching can filter in SQL.
    """

    __tablename__ = "profile_reach"
    __table_args__ = (sa.Index("ix_profile_reach_region_profile", "region", "profile_id"),)

    profile_id: int = Field(foreign_key="freelancer_profiles.id", ondelete="CASCADE", primary_key=True)
    region: str = Field(max_length=6, primary_key=True)


class Experience(SQLModel, table=True):
    __tablename__ = "experiences"

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="freelancer_profiles.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=200)
    organisation: str = Field(max_length=200)
    start_date: date
    end_date: date | None = None
    description: str = Field(default="", sa_type=sa.Text)


class Recommendation(SQLModel, table=True):
    __tablename__ = "recommendations"
    __table_args__ = (
        sa.UniqueConstraint("experience_id", "author_user_id", name="uq_recommendations_experience_author"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experience_id: int = Field(foreign_key="experiences.id", ondelete="CASCADE", index=True)
    author_user_id: int = Field(foreign_key="users.id")
    author_name: str = Field(max_length=200)
    text: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Connection(SQLModel, table=True):
    """A contact request between two users, and once accepted, their contact."""

    __tablename__ = "connections"

    id: int | None = Field(default=None, primary_key=True)
    requester_id: int = Field(foreign_key="users.id", index=True)
    addressee_id: int = Field(foreign_key="users.id", index=True)
    # "<lower user id>:<higher user id>": one connection per pair of users, in either direction.
    pair_key: str = Field(sa_column=sa.Column(sa.String(40), unique=True, nullable=False))
    status: str = Field(default="pending", max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContactMessage(SQLModel, table=True):
    __tablename__ = "contact_messages"

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connections.id", ondelete="CASCADE", index=True)
    sender_id: int = Field(foreign_key="users.id")
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Mission(SQLModel, table=True):
    __tablename__ = "missions"
    __table_args__ = (sa.Index("ix_missions_status_start", "status", "start_date"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    created_by: int = Field(foreign_key="users.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    work_mode: str = Field(default="onsite", max_length=10)
    # Where the work takes place; None only for remote missions.
    region: str | None = Field(default=None, max_length=6)
    start_date: date
    duration_weeks: int
    hours_per_week: int
    # At most one of the two is set: a maximum hourly rate, or a budget for the whole mission.
    max_rate: Decimal | None = Field(default=None, sa_type=DecimalAmount)
    budget: Decimal | None = Field(default=None, sa_type=DecimalAmount)
    status: str = Field(default="draft", max_length=10)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MissionSkill(SQLModel, table=True):
    __tablename__ = "mission_skills"
    __table_args__ = (sa.UniqueConstraint("mission_id", "skill_key", name="uq_mission_skills_mission_skill"),)

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="missions.id", ondelete="CASCADE", index=True)
    skill_key: str = Field(max_length=80, index=True)
    name: str = Field(max_length=80)
    min_level: int
    required: bool = True


class MissionLanguage(SQLModel, table=True):
    __tablename__ = "mission_languages"
    __table_args__ = (
        sa.UniqueConstraint("mission_id", "language", name="uq_mission_languages_mission_language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="missions.id", ondelete="CASCADE", index=True)
    language: str = Field(max_length=2)


class Application(SQLModel, table=True):
    """A freelancer's candidacy for a mission, from the client's invitation or their own."""

    __tablename__ = "applications"
    __table_args__ = (sa.UniqueConstraint("mission_id", "profile_id", name="uq_applications_mission_profile"),)

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="missions.id", index=True)
    profile_id: int = Field(foreign_key="freelancer_profiles.id", index=True)
    freelancer_user_id: int = Field(foreign_key="users.id", index=True)
    status: str = Field(max_length=12)
    invited_by: int | None = Field(default=None, foreign_key="users.id")
    invited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    invitation_message: str = Field(default="", sa_type=sa.Text)
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message: str = Field(default="", sa_type=sa.Text)
    proposed_rate: Decimal | None = Field(default=None, sa_type=DecimalAmount)
    shortlisted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CandidateCheck(SQLModel, table=True):
    """A reference check or skill test on a candidate: who, when and the outcome."""

    __tablename__ = "candidate_checks"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="applications.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=12)
    # The reference who was called, or who ran the skill test.
    checked_with: str = Field(max_length=200)
    performed_on: date
    outcome: str = Field(max_length=10)
    # Skill tests only: the skill tested and the score out of 100.
    skill_name: str | None = Field(default=None, max_length=80)
    score: int | None = None
    notes: str = Field(default="", sa_type=sa.Text)
    recorded_by: int = Field(foreign_key="users.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notice(SQLModel, table=True):
    """An in-app notification. Its text is rendered from ``kind`` and ``params`` in the
    reader's language when shown."""

    __tablename__ = "notices"
    __table_args__ = (sa.Index("ix_notices_user_read", "user_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=40)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    link: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    emailed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

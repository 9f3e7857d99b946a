"""Request and response bodies of the marketplace's JSON API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class Me(BaseModel):
    id: int
    name: str
    role: Literal["freelancer", "client"]
    language: str
    csrf_token: str = Field(description="send it back in the X-CSRF-Token header of every POST")


class SkillOut(BaseModel):
    name: str
    level: int = Field(ge=1, le=5)


class RecommendationOut(BaseModel):
    author_name: str
    text: str
    created_at: datetime


class ExperienceOut(BaseModel):
    id: int
    title: str
    organisation: str
    start_date: date
    end_date: date | None
    description: str
    recommendations: list[RecommendationOut]


class ProfileOut(BaseModel):
    slug: str
    name: str
    headline: str
    summary: str
    hourly_rate: Decimal = Field(description="euros per hour, excluding VAT")
    available_from: date
    hours_per_week: int
    region: str = Field(description="ISO 3166-2:BE code")
    region_name: str
    travel_km: int
    travel_regions: list[str]
    languages: list[str] = Field(description="ISO 639-1 codes")
    skills: list[SkillOut]
    experiences: list[ExperienceOut]


class SkillRequirementIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    min_level: int = Field(ge=1, le=5)
    required: bool = True


class MissionIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    work_mode: Literal["onsite", "hybrid", "remote"]
    region: str | None = Field(default=None, description="ISO 3166-2:BE code; omit for remote missions")
    start_date: date
    duration_weeks: int = Field(ge=1, le=260)
    hours_per_week: int = Field(ge=1, le=80)
    max_rate: Decimal | None = Field(default=None, description="maximum euros per hour, excluding VAT")
    budget: Decimal | None = Field(default=None, description="euros for the whole mission, excluding VAT")
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes")
    skills: list[SkillRequirementIn] = Field(default_factory=list)


class MissionSkillOut(BaseModel):
    name: str
    min_level: int
    required: bool


class MissionOut(BaseModel):
    id: int
    title: str
    description: str
    status: Literal["draft", "published", "paused", "filled", "closed"]
    status_label: str
    work_mode: Literal["onsite", "hybrid", "remote"]
    region: str | None
    start_date: date
    end_date: date
    duration_weeks: int
    hours_per_week: int
    max_rate: Decimal | None
    budget: Decimal | None
    languages: list[str]
    skills: list[MissionSkillOut]


class StatusChangeIn(BaseModel):
    status: Literal["draft", "published", "paused", "filled", "closed"]


class ReasonOut(BaseModel):
    criterion: Literal["skill", "optional_skill", "rate", "start", "hours", "location", "language"]
    text: str = Field(description="the reason as a sentence in the request's language")
    points: float
    max_points: float


class MatchOut(BaseModel):
    rank: int
    profile_slug: str
    name: str
    headline: str
    hourly_rate: Decimal
    score: float = Field(description="out of 100")
    reasons: list[ReasonOut]
    candidacy_status: str | None = Field(description="status of an existing invitation or application, if any")


class FittingMissionOut(BaseModel):
    mission: MissionOut
    score: float
    reasons: list[ReasonOut]


class InvitationIn(BaseModel):
    profile_slug: str
    message: str = Field(default="", max_length=5000)


class ApplicationIn(BaseModel):
    message: str = Field(min_length=1, max_length=5000)
    rate: Decimal = Field(gt=0, description="proposed euros per hour, excluding VAT")


class ShortlistIn(BaseModel):
    shortlisted: bool


class CheckIn(BaseModel):
    kind: Literal["reference", "skill_test"]
    checked_with: str = Field(min_length=1, max_length=200, description="the reference, or who ran the test")
    performed_on: date
    outcome: Literal["positive", "mixed", "negative"]
    notes: str = Field(default="", max_length=5000)
    skill_name: str | None = None
    score: int | None = Field(default=None, ge=0, le=100)


class CheckOut(BaseModel):
    id: int
    kind: str
    checked_with: str
    performed_on: date
    outcome: str
    skill_name: str | None
    score: int | None
    notes: str
    recorded_by: int
    recorded_at: datetime


class ApplicationOut(BaseModel):
    id: int
    mission_id: int
    mission_title: str
    status: Literal["invited", "applied", "shortlisted", "accepted", "rejected", "declined", "withdrawn"]
    status_label: str
    freelancer_name: str
    profile_slug: str
    invitation_message: str
    message: str
    proposed_rate: Decimal | None
    invited_at: datetime | None
    applied_at: datetime | None
    shortlisted_at: datetime | None
    checks: list[CheckOut]


class HireOut(BaseModel):
    application: ApplicationOut
    contract_id: int


class NoticeOut(BaseModel):
    id: int
    kind: str
    text: str
    link: str
    created_at: datetime
    read: bool


class ContactOut(BaseModel):
    connection_id: int
    user_id: int
    name: str
    status: Literal["pending", "accepted", "declined"]
    direction: Literal["contact", "incoming", "outgoing"]
    profile_slug: str | None
    unread_messages: int

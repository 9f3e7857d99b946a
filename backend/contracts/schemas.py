"""Response bodies of the contracts' JSON API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class AcceptanceOut(BaseModel):
    party: Literal["client", "freelancer"]
    user_name: str
    accepted_at: datetime
    ip_address: str
    terms_digest: str = Field(description="SHA-256 of the terms accepted, in hexadecimal")


class ContractOut(BaseModel):
    id: int
    mission_id: int
    status: Literal["awaiting_acceptance", "signed"]
    your_party: Literal["client", "freelancer"]
    client_name: str
    client_enterprise_number: str
    client_address: str
    freelancer_name: str
    freelancer_enterprise_number: str | None
    mission_title: str
    hourly_rate: Decimal = Field(description="euros per hour, excluding VAT")
    hours_per_week: int
    start_date: date
    end_date: date
    payment_terms_days: int
    debtor_management: bool
    language: Literal["fr", "nl", "en"]
    terms_version: int
    terms_digest: str
    signed_at: datetime | None
    acceptances: list[AcceptanceOut] = Field(description="acceptances of the current version of the terms")

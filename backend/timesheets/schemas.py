"""Request and response bodies of the timesheets' JSON API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class DayOut(BaseModel):
    day: date
    hours: Decimal
    in_contract: bool = Field(description="whether the day is within the contract period")


class WeekOut(BaseModel):
    contract_id: int
    week_start: date = Field(description="the Monday of the week")
    status: Literal["draft", "submitted", "approved", "rejected"]
    total_hours: Decimal
    decision_comment: str
    days: list[DayOut]


class WeekHoursIn(BaseModel):
    hours: dict[date, Decimal] = Field(description="hours per day of the week, in quarters of an hour; "
                                                   "a day left out keeps no hours")


class DecisionIn(BaseModel):
    comment: str = Field(default="", max_length=2000)


class InvoiceDraftLineOut(BaseModel):
    week_start: date
    hours: Decimal
    unit_price: Decimal
    amount: Decimal


class InvoiceDraftOut(BaseModel):
    id: int
    contract_id: int
    mission_title: str
    client_name: str
    status: Literal["draft", "issued"]
    currency: str
    total_hours: Decimal
    total: Decimal = Field(description="sum of the line amounts, excluding VAT")
    lines: list[InvoiceDraftLineOut]

"""Contracts between a client company and a freelancer, and each party's acceptance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

from backend.contracts.errors import ContractLocked
from backend.core.money import DecimalAmount
from backend.core.time import UTCDateTime, utcnow

CONTRACT_STATUSES = ("awaiting_acceptance", "signed")
PARTIES = ("client", "freelancer")


class Contract(SQLModel, table=True):
    """The terms agreed for a mission, copied from the mission and the application when the
    client hires, so that later edits of either do not change the contract.

    Once both parties accepted the current terms the contract is signed, and a signed
    contract cannot change (``refuse_changes_to_signed_contracts`` below).
    """

    __tablename__ = "contracts"

    id: int | None = Field(default=None, primary_key=True)
    mission_id: int = Field(foreign_key="missions.id", index=True)
    application_id: int = Field(sa_column=sa.Column(sa.ForeignKey("applications.id"), unique=True, nullable=False))
    company_id: int = Field(foreign_key="companies.id", index=True)
    freelancer_user_id: int = Field(foreign_key="users.id", index=True)
    client_name: str = Field(max_length=200)
    client_enterprise_number: str = Field(max_length=10)
    client_address: str = Field(max_length=300)
    freelancer_name: str = Field(max_length=200)
    freelancer_enterprise_number: str | None = Field(default=None, max_length=10)
    mission_title: str = Field(max_length=200)
    mission_description: str = Field(default="", sa_type=sa.Text)
    hourly_rate: Decimal = Field(sa_type=DecimalAmount)
    hours_per_week: int
    start_date: date
    end_date: date
    # Days the client has to pay each invoice, counted from its date.
    payment_terms_days: int = 30
    # Whether the freelancer chose the platform's debtor management (reminders, calls, letters).
    debtor_management: bool = False
    # Language of the contract text: fr, nl or en.
    language: str = Field(default="fr", max_length=2)
    status: str = Field(default="awaiting_acceptance", max_length=20)
    # Raised on every change of terms; an acceptance counts only for the version it names.
    terms_version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContractAcceptance(SQLModel, table=True):
    """One party's online acceptance of one version of the terms: who, when and from where."""

    __tablename__ = "contract_acceptances"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "terms_version", "party", name="uq_contract_acceptances_version_party"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    terms_version: int
    party: str = Field(max_length=10)
    user_id: int = Field(foreign_key="users.id")
    user_name: str = Field(max_length=200)
    accepted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The client's address as the web server saw it (IPv4 or IPv6).
    ip_address: str = Field(max_length=45)
    # SHA-256 of the terms accepted, in hexadecimal.
    terms_digest: str = Field(max_length=64)


@sa.event.listens_for(OrmSession, "before_flush")
def refuse_changes_to_signed_contracts(session: OrmSession, _flush_context, _instances) -> None:
    """Raise ContractLocked before a change to a signed contract, or to any recorded
    acceptance, reaches the database, whichever code made it."""
    for instance in session.dirty:
        if isinstance(instance, Contract) and _was_signed(instance) and session.is_modified(instance):
            raise ContractLocked()
        if isinstance(instance, ContractAcceptance) and session.is_modified(instance):
            raise ContractLocked()
    for instance in session.deleted:
        if isinstance(instance, ContractAcceptance) or (isinstance(instance, Contract) and _was_signed(instance)):
            raise ContractLocked()


def _was_signed(contract: Contract) -> bool:
    """Return whether the contract was signed as loaded from the database, before this flush."""
    history = sa.inspect(contract).attrs.status.history
    committed = history.deleted[0] if history.deleted else contract.status
    return committed == "signed"

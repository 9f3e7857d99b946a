"""Contracts: drafted when a client hires, accepted online by both parties, then locked."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog
from sqlmodel import Session, select

from backend.accounts.models import User
from backend.contracts.errors import (
    ContractAlreadyAccepted,
    ContractLocked,
    ContractNotFound,
    DebtorManagementIsFreelancersChoice,
)
from backend.contracts.models import Contract, ContractAcceptance
from backend.core.errors import InvalidInput
from backend.core.time import utcnow
from backend.marketplace import notices
from backend.marketplace import service as marketplace
from backend.web.i18n import LANGUAGES

log = structlog.get_logger(__name__)

MAX_PAYMENT_TERMS_DAYS = 60


@dataclass(frozen=True)
class ContractOffer:
    """The parties, mission and terms that the marketplace hands over when a client hires."""

    mission_id: int
    application_id: int
    company_id: int
    freelancer_user_id: int
    client_name: str
    client_enterprise_number: str
    client_address: str
    freelancer_name: str
    mission_title: str
    mission_description: str
    hourly_rate: Decimal
    hours_per_week: int
    start_date: date
    end_date: date
    language: str = "fr"
    freelancer_enterprise_number: str | None = None


@dataclass(frozen=True)
class TermsChange:
    language: str
    payment_terms_days: int
    start_date: date
    end_date: date
    debtor_management: bool


def create_contract(session: Session, offer: ContractOffer, *, party_user_ids: list[int]) -> Contract:
    """Draft the contract and ask every user of both parties to accept it."""
    contract = Contract(
        mission_id=offer.mission_id, application_id=offer.application_id, company_id=offer.company_id,
        freelancer_user_id=offer.freelancer_user_id, client_name=offer.client_name,
        client_enterprise_number=offer.client_enterprise_number, client_address=offer.client_address,
        freelancer_name=offer.freelancer_name, freelancer_enterprise_number=offer.freelancer_enterprise_number,
        mission_title=offer.mission_title, mission_description=offer.mission_description,
        hourly_rate=offer.hourly_rate, hours_per_week=offer.hours_per_week, start_date=offer.start_date,
        end_date=offer.end_date, language=offer.language if offer.language in LANGUAGES else "fr",
    )
    session.add(contract)
    session.flush()
    notices.notify(session, party_user_ids, "contract_to_accept", f"/contracts/{contract.id}",
                   mission=contract.mission_title)
    log.info("contract.created", contract_id=contract.id, mission_id=offer.mission_id)
    return contract


def party_of(session: Session, user: User, contract: Contract) -> str | None:
    """Return "client" or "freelancer" for a user of one of the two parties, else None."""
    if user.role == "freelancer" and contract.freelancer_user_id == user.id:
        return "freelancer"
    if user.role == "client":
        company = marketplace.company_for_user(session, user.id)
        if company is not None and company.id == contract.company_id:
            return "client"
    return None


def get_contract(session: Session, user: User, contract_id: int) -> tuple[Contract, str]:
    """Return a contract of one of the user's parties, with the user's party."""
    contract = session.get(Contract, contract_id)
    party = None if contract is None else party_of(session, user, contract)
    if party is None:
        raise ContractNotFound(contract_id=contract_id)
    return contract, party


def contracts_for_user(session: Session, user: User) -> list[Contract]:
    if user.role == "client":
        company = marketplace.company_for_user(session, user.id)
        if company is None:
            return []
        condition = Contract.company_id == company.id
    else:
        condition = Contract.freelancer_user_id == user.id
    return list(session.exec(select(Contract).where(condition).order_by(Contract.id.desc())).all())


def signed_contracts_for_user(session: Session, user: User) -> list[Contract]:
    return [contract for contract in contracts_for_user(session, user) if contract.status == "signed"]


def party_user_ids(session: Session, contract: Contract, party: str) -> list[int]:
    if party == "freelancer":
        return [contract.freelancer_user_id]
    return marketplace.company_member_ids(session, contract.company_id)


def terms_digest(contract: Contract) -> str:
    """Return the SHA-256 of the contract's terms, so an acceptance names exactly what was accepted."""
    terms = {
        "contract_id": contract.id, "terms_version": contract.terms_version,
        "client": [contract.client_name, contract.client_enterprise_number, contract.client_address],
        "freelancer": [contract.freelancer_name, contract.freelancer_enterprise_number],
        "mission": [contract.mission_title, contract.mission_description],
        "hourly_rate": str(contract.hourly_rate), "hours_per_week": contract.hours_per_week,
        "start_date": contract.start_date.isoformat(), "end_date": contract.end_date.isoformat(),
        "payment_terms_days": contract.payment_terms_days, "debtor_management": contract.debtor_management,
        "language": contract.language,
    }
    canonical = json.dumps(terms, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def change_terms(session: Session, user: User, contract_id: int, change: TermsChange) -> Contract:
    """Change the terms before both parties accepted them; earlier acceptances no longer count."""
    contract, party = get_contract(session, user, contract_id)
    if contract.status == "signed":
        raise ContractLocked()
    if change.language not in LANGUAGES:
        raise InvalidInput("Unknown language {language}: choose fr, nl or en.", language=change.language)
    if not 0 <= change.payment_terms_days <= MAX_PAYMENT_TERMS_DAYS:
        # The Act of 2 August 2002 on late payment, as amended in 2021, caps agreed payment
        # terms between businesses at 60 days.
        raise InvalidInput("Invalid payment term {value}: write a number of days from 0 to 60.",
                           value=change.payment_terms_days)
    if change.end_date < change.start_date:
        raise InvalidInput("The contract ends before it starts: check the dates.")
    if change.debtor_management != contract.debtor_management and party != "freelancer":
        raise DebtorManagementIsFreelancersChoice()

    new_terms = (change.language, change.payment_terms_days, change.start_date, change.end_date,
                 change.debtor_management)
    old_terms = (contract.language, contract.payment_terms_days, contract.start_date, contract.end_date,
                 contract.debtor_management)
    if new_terms == old_terms:
        return contract
    (contract.language, contract.payment_terms_days, contract.start_date, contract.end_date,
     contract.debtor_management) = new_terms
    contract.terms_version += 1
    session.add(contract)
    other = "client" if party == "freelancer" else "freelancer"
    notices.notify(session, party_user_ids(session, contract, other), "contract_to_accept",
                   f"/contracts/{contract.id}", mission=contract.mission_title)
    log.info("contract.terms_changed", contract_id=contract.id, terms_version=contract.terms_version, party=party)
    return contract


def current_acceptances(session: Session, contract: Contract) -> dict[str, ContractAcceptance]:
    query = select(ContractAcceptance).where(ContractAcceptance.contract_id == contract.id,
                                             ContractAcceptance.terms_version == contract.terms_version)
    return {acceptance.party: acceptance for acceptance in session.exec(query).all()}


def accept(session: Session, user: User, contract_id: int, *, ip_address: str) -> Contract:
    """Record the user's acceptance for their party; the second party's acceptance signs the contract."""
    contract, party = get_contract(session, user, contract_id)
    if contract.status == "signed":
        raise ContractLocked()
    accepted = current_acceptances(session, contract)
    if party in accepted:
        raise ContractAlreadyAccepted()

    session.add(ContractAcceptance(contract_id=contract.id, terms_version=contract.terms_version, party=party,
                                   user_id=user.id, user_name=user.name, ip_address=ip_address[:45],
                                   terms_digest=terms_digest(contract)))
    session.flush()
    log.info("contract.accepted", contract_id=contract.id, party=party, user_id=user.id)
    if len(accepted) + 1 == 2:
        contract.status = "signed"
        contract.signed_at = utcnow()
        session.add(contract)
        session.flush()
        notices.notify(session, [*party_user_ids(session, contract, "client"), contract.freelancer_user_id],
                       "contract_signed", f"/contracts/{contract.id}", mission=contract.mission_title)
        log.info("contract.signed", contract_id=contract.id)
    return contract


def contracts_by_id(session: Session, contract_ids: list[int]) -> dict[int, Contract]:
    if not contract_ids:
        return {}
    return {contract.id: contract for contract in
            session.exec(select(Contract).where(Contract.id.in_(contract_ids))).all()}

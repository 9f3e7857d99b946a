"""Pages and JSON API of contracts: read, change terms, accept, download as PDF."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from backend.accounts.models import User
from backend.contracts import pdf, service
from backend.contracts.models import Contract
from backend.contracts.schemas import AcceptanceOut, ContractOut
from backend.core.settings import get_settings
from backend.marketplace.labels import gettext_noop
from backend.marketplace.views import Transaction, done, parse_day, parse_int
from backend.web.deps import current_user
from backend.web.security import verify_csrf
from backend.web.templating import render

router = APIRouter()


def _client_ip(request: Request) -> str:
    # NOTE: behind a reverse proxy this is the proxy's address; trust X-Forwarded-For only
    # once the deployment sets it (uvicorn --proxy-headers --forwarded-allow-ips).
    return request.client.host if request.client else "unknown"


@router.get("/contracts", include_in_schema=False)
def contracts_page(request: Request, user: User = Depends(current_user), session: Session = Transaction):
    return render(request, "contracts/list.html", contracts=service.contracts_for_user(session, user))


@router.get("/contracts/{contract_id}", include_in_schema=False)
def contract_page(request: Request, contract_id: int, user: User = Depends(current_user),
                  session: Session = Transaction):
    contract, party = service.get_contract(session, user, contract_id)
    settings = get_settings()
    return render(request, "contracts/detail.html", contract=contract, party=party,
                  acceptances=service.current_acceptances(session, contract),
                  digest=service.terms_digest(contract), settings=settings)


@router.post("/contracts/{contract_id}/terms", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def change_terms(request: Request, contract_id: int, language: str = Form(...), payment_terms_days: str = Form(...),
                 start_date: str = Form(...), end_date: str = Form(...), debtor_management: bool = Form(False),
                 user: User = Depends(current_user), session: Session = Transaction):
    change = service.TermsChange(language=language, payment_terms_days=parse_int(payment_terms_days),
                                 start_date=parse_day(start_date), end_date=parse_day(end_date),
                                 debtor_management=debtor_management)
    service.change_terms(session, user, contract_id, change)
    return done(request, "The terms are saved. Both parties now accept this version.", f"/contracts/{contract_id}")


@router.post("/contracts/{contract_id}/accept", dependencies=[Depends(verify_csrf)], include_in_schema=False)
def accept(request: Request, contract_id: int, user: User = Depends(current_user),
           session: Session = Transaction):
    contract = service.accept(session, user, contract_id, ip_address=_client_ip(request))
    message = (gettext_noop("Both parties accepted: the contract is signed.") if contract.status == "signed"
               else gettext_noop("You accepted the contract. The other party still has to accept it."))
    return done(request, message, f"/contracts/{contract_id}")


@router.get("/contracts/{contract_id}/pdf", include_in_schema=False)
def contract_pdf(contract_id: int, user: User = Depends(current_user), session: Session = Transaction):
    contract, _ = service.get_contract(session, user, contract_id)
    content = pdf.contract_pdf(session, contract, get_settings())
    filename = f"ikki-contract-{contract.id}-v{contract.terms_version}-{contract.language}.pdf"
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


def _contract_out(session: Session, contract: Contract, party: str) -> ContractOut:
    return ContractOut(
        id=contract.id, mission_id=contract.mission_id, status=contract.status, your_party=party,
        client_name=contract.client_name, client_enterprise_number=contract.client_enterprise_number,
        client_address=contract.client_address, freelancer_name=contract.freelancer_name,
        freelancer_enterprise_number=contract.freelancer_enterprise_number, mission_title=contract.mission_title,
        hourly_rate=contract.hourly_rate, hours_per_week=contract.hours_per_week, start_date=contract.start_date,
        end_date=contract.end_date, payment_terms_days=contract.payment_terms_days,
        debtor_management=contract.debtor_management, language=contract.language,
        terms_version=contract.terms_version, terms_digest=service.terms_digest(contract),
        signed_at=contract.signed_at,
        acceptances=[AcceptanceOut.model_validate(acceptance, from_attributes=True)
                     for acceptance in service.current_acceptances(session, contract).values()],
    )


@router.get("/api/contracts", response_model=list[ContractOut], tags=["contracts"])
def list_contracts(user: User = Depends(current_user), session: Session = Transaction) -> list[ContractOut]:
    return [_contract_out(session, contract, service.party_of(session, user, contract))
            for contract in service.contracts_for_user(session, user)]


@router.get("/api/contracts/{contract_id}", response_model=ContractOut, tags=["contracts"])
def get_contract(contract_id: int, user: User = Depends(current_user),
                 session: Session = Transaction) -> ContractOut:
    contract, party = service.get_contract(session, user, contract_id)
    return _contract_out(session, contract, party)


@router.post("/api/contracts/{contract_id}/accept", response_model=ContractOut, tags=["contracts"],
             dependencies=[Depends(verify_csrf)])
def accept_contract(request: Request, contract_id: int, user: User = Depends(current_user),
                    session: Session = Transaction) -> ContractOut:
    """Accept the current terms for the user's party; the second acceptance signs the contract."""
    contract = service.accept(session, user, contract_id, ip_address=_client_ip(request))
    return _contract_out(session, contract, service.party_of(session, user, contract))

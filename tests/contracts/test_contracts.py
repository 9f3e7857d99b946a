from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.contracts import pdf, service
from backend.contracts.errors import (
    ContractAlreadyAccepted,
    ContractLocked,
    ContractNotFound,
    DebtorManagementIsFreelancersChoice,
)
from backend.contracts.models import Contract, ContractAcceptance
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.time import today_brussels
from tests.marketplace.factories import hire_for, make_client, make_freelancer


def next_start():
    start = today_brussels() + timedelta(days=14)
    return start - timedelta(days=start.weekday())


def test_hiring_drafts_contract_from_mission_and_application(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, freelancer, contract = hire_for(session, start=next_start(), rate="87.50", weeks=4, hours=38)

        assert contract.status == "awaiting_acceptance"
        assert contract.hourly_rate == Decimal("87.50")
        assert contract.hours_per_week == 38
        assert contract.end_date - contract.start_date == timedelta(days=27)
        assert contract.client_name == "Brabo Logistics NV"
        assert contract.freelancer_name == "Lien Peeters"
        assert contract.language == "en"
        assert service.party_of(session, client, contract) == "client"
        assert service.party_of(session, freelancer, contract) == "freelancer"


def test_both_acceptances_sign_and_record_who_when_where(database_url):
    with session_scope(core_db.get_engine(database_url)) as session:
        client, freelancer, contract = hire_for(session, start=next_start())
        service.accept(session, client, contract.id, ip_address="192.0.2.10")
        assert contract.status == "awaiting_acceptance"
        with pytest.raises(ContractAlreadyAccepted):
            service.accept(session, client, contract.id, ip_address="192.0.2.10")
        service.accept(session, freelancer, contract.id, ip_address="2001:db8::7")
        contract_id = contract.id

    with session_scope(core_db.get_engine(database_url)) as session:
        contract = session.get(Contract, contract_id)
        acceptances = service.current_acceptances(session, contract)
        assert contract.status == "signed"
        assert contract.signed_at is not None
        assert acceptances["client"].user_name == "Brabo Logistics NV buyer"
        assert acceptances["client"].ip_address == "192.0.2.10"
        assert acceptances["freelancer"].ip_address == "2001:db8::7"
        assert acceptances["freelancer"].accepted_at >= acceptances["client"].accepted_at
        assert acceptances["client"].terms_digest == service.terms_digest(contract)


def test_signed_contract_refuses_any_change(database_url):
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        client, freelancer, contract = hire_for(session, start=next_start())
        service.accept(session, client, contract.id, ip_address="192.0.2.10")
        service.accept(session, freelancer, contract.id, ip_address="192.0.2.11")
        contract_id, client_id = contract.id, client.id
        change = service.TermsChange(language="fr", payment_terms_days=15, start_date=contract.start_date,
                                     end_date=contract.end_date, debtor_management=False)
        with pytest.raises(ContractLocked):
            service.change_terms(session, client, contract.id, change)

    # Even code that bypasses the service cannot change a signed contract or its acceptances.
    with pytest.raises(ContractLocked), session_scope(engine) as session:
        session.get(Contract, contract_id).hourly_rate = Decimal("1.00")
    with pytest.raises(ContractLocked), session_scope(engine) as session:
        acceptance = session.exec(select(ContractAcceptance).where(ContractAcceptance.user_id == client_id)).one()
        session.delete(acceptance)
    with session_scope(engine) as session:
        assert session.get(Contract, contract_id).hourly_rate == Decimal("80.00")


def test_changed_terms_need_both_acceptances_again(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, freelancer, contract = hire_for(session, start=next_start())
        service.accept(session, client, contract.id, ip_address="192.0.2.10")
        first_digest = service.terms_digest(contract)

        change = service.TermsChange(language="nl", payment_terms_days=14, start_date=contract.start_date,
                                     end_date=contract.end_date, debtor_management=True)
        service.change_terms(session, freelancer, contract.id, change)

        assert contract.terms_version == 2
        assert service.terms_digest(contract) != first_digest
        assert service.current_acceptances(session, contract) == {}
        service.accept(session, freelancer, contract.id, ip_address="192.0.2.11")
        assert contract.status == "awaiting_acceptance"
        service.accept(session, client, contract.id, ip_address="192.0.2.10")
        assert contract.status == "signed"
        assert contract.debtor_management is True


def test_only_freelancer_chooses_debtor_management(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, _, contract = hire_for(session, start=next_start())
        change = service.TermsChange(language="en", payment_terms_days=30, start_date=contract.start_date,
                                     end_date=contract.end_date, debtor_management=True)
        with pytest.raises(DebtorManagementIsFreelancersChoice):
            service.change_terms(session, client, contract.id, change)


def test_payment_term_capped_at_sixty_days(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, _, contract = hire_for(session, start=next_start())
        change = service.TermsChange(language="en", payment_terms_days=90, start_date=contract.start_date,
                                     end_date=contract.end_date, debtor_management=False)
        with pytest.raises(Exception, match="from 0 to 60"):
            service.change_terms(session, client, contract.id, change)


def test_strangers_cannot_read_or_accept(sqlite_url):
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        _, _, contract = hire_for(session, start=next_start())
        other_client = make_client(session, "other@company.example", company="Other NV")
        other_freelancer, _ = make_freelancer(session, "other@example.be", "Other", skills={"Go": 3})
        for stranger in (other_client, other_freelancer):
            with pytest.raises(ContractNotFound):
                service.get_contract(session, stranger, contract.id)
            with pytest.raises(ContractNotFound):
                service.accept(session, stranger, contract.id, ip_address="192.0.2.99")


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", ["Contrat de prestation de services", "Article 6. Gestion des débiteurs", "français"]),
    ("nl", ["Overeenkomst voor dienstverlening", "Artikel 6. Debiteurenbeheer", "Nederlands"]),
    ("en", ["Services contract", "Article 6. Debtor management", "English"]),
])
def test_pdf_in_chosen_language(sqlite_url, settings, language, expected, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing: install poppler-utils")
    with session_scope(core_db.get_engine(sqlite_url)) as session:
        client, freelancer, contract = hire_for(session, start=next_start())
        change = service.TermsChange(language=language, payment_terms_days=30, start_date=contract.start_date,
                                     end_date=contract.end_date, debtor_management=True)
        service.change_terms(session, freelancer, contract.id, change)
        service.accept(session, client, contract.id, ip_address="192.0.2.10")
        content = pdf.contract_pdf(session, contract, settings)

    path = tmp_path / "contract.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert content.startswith(b"%PDF-")
    for fragment in expected:
        assert fragment in text
    assert "192.0.2.10" in text
    assert "Brabo Logistics NV" in text

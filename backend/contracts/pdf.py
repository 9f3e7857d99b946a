"""The contract as a PDF, in the language the parties chose, rendered with WeasyPrint."""

from __future__ import annotations

from sqlmodel import Session
from weasyprint import HTML

from backend.contracts import service
from backend.contracts.models import Contract
from backend.core.settings import Settings
from backend.marketplace.service import format_enterprise_number
from backend.web.templating import render_text


def contract_html(session: Session, contract: Contract, settings: Settings) -> str:
    return render_text(
        "contracts/contract_pdf.html", contract.language, contract=contract,
        acceptances=service.current_acceptances(session, contract), digest=service.terms_digest(contract),
        enterprise_number=format_enterprise_number, settings=settings,
    )


def contract_pdf(session: Session, contract: Contract, settings: Settings) -> bytes:
    return HTML(string=contract_html(session, contract, settings)).write_pdf()

"""Invoices made directly in the database for the collection tests, business or consumer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Engine

from backend.core.db import session_scope
from backend.invoicing.models import Invoice, InvoiceLine, InvoiceParty


def make_invoice(engine: Engine, owner_id: int, *, number: str = "2026-0001", due: date = date(2026, 6, 1),
                 amount: str = "1000.00", consumer: bool = False, language: str = "fr",
                 managed: bool = True, email: str | None = "compta@debiteur.be") -> int:
    with session_scope(engine) as session:
        invoice = Invoice(
            owner_id=owner_id, source="issued", number=number, supplier_key="0123456749",
            issue_date=date(due.year, 1, 1) if due.month == 1 and due.day < 2 else due.replace(day=1),
            due_date=due, currency="EUR", structured_communication="123456789002", iban="BE56363123456788",
            line_extension_amount=Decimal(amount), tax_exclusive_amount=Decimal(amount), tax_amount=Decimal("0.00"),
            tax_inclusive_amount=Decimal(amount), payable_amount=Decimal(amount), status="open",
            debtor_language=language, debtor_language_source="freelancer", debtor_management=managed,
        )
        session.add(invoice)
        session.flush()
        session.add(InvoiceParty(invoice_id=invoice.id, role="supplier", name="Lien Verbeke Design",
                                 enterprise_number="0123456749", vat_number="BE0123456749",
                                 street="Kouter 1", postal_code="9000", city="Gent", country="BE"))
        session.add(InvoiceParty(
            invoice_id=invoice.id, role="customer",
            name="Jeanne Dupont" if consumer else "Brasserie du Coin SRL",
            enterprise_number=None if consumer else "0403170701",
            vat_number=None if consumer else "BE0403170701",
            street="Rue Haute 12", postal_code="1000", city="Bruxelles", country="BE",
            email=email, phone="+3225550100",
        ))
        session.add(InvoiceLine(invoice_id=invoice.id, position=1, description="Logo design", quantity=Decimal(1),
                                unit_price=Decimal(amount), line_amount=Decimal(amount), vat_category="E"))
        return invoice.id

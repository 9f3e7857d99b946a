"""Business details, customers and documents for the invoicing tests, benchmark and sample PDFs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Engine

from backend.accounts.service import sign_up
from backend.core.db import session_scope
from backend.invoicing import drafts, issuing, parties
from backend.invoicing.drafts import DraftInput, LineEntry
from backend.invoicing.models import Invoice

FREELANCER = parties.ProfileInput(
    name="Lien Verbeke Webontwikkeling", registration_name="Lien Verbeke", street="Voorbeeldstraat 12",
    postal_code="9000", city="Gent", enterprise_number="0478.123.490", vat_number="BE0478123490",
    iban="BE56 3631 2345 6788", email="lien@example.be", phone="+32 470 12 34 56", payment_terms_days=30,
)
SMALL_BUSINESS = parties.ProfileInput(
    name="Atelier Janssens", street="Kerkstraat 3", postal_code="2000", city="Antwerpen",
    enterprise_number="0799100252", vat_number="BE0799100252", vat_regime="small_business",
    iban="BE71 0961 2345 6769", email="info@atelier.example",
)
# Customers by name, one for each VAT treatment.
CUSTOMERS = {
    "brasserie": parties.CustomerInput(
        name="Brasserie du Quai", registration_name="Brasserie du Quai SA", street="Quai des Exemples 7",
        postal_code="5000", city="Namur", vat_number="BE0123456749", language="fr", email="compta@example.com",
        contact_name="Service comptabilité"),
    "bouw": parties.CustomerInput(
        name="Bouwbedrijf Peeters", registration_name="Bouwbedrijf Peeters BV", street="Industrieweg 40",
        postal_code="3500", city="Hasselt", vat_number="BE0876543270", language="nl", email="boekhouding@example.com"),
    "dutch": parties.CustomerInput(
        name="Voorbeeld Software", registration_name="Voorbeeld Software B.V.", street="Keizersgracht 1",
        postal_code="1015 CJ", city="Amsterdam", country="NL", vat_number="NL004495445B01", language="nl",
        email="finance@example.nl"),
    "french": parties.CustomerInput(
        name="Exemple Conseil", registration_name="Exemple Conseil SAS", street="12 rue de l'Exemple",
        postal_code="75002", city="Paris", country="FR", vat_number="FR40303265045", language="fr",
        email="compta@example.fr"),
    "consumer": parties.CustomerInput(
        kind="consumer", name="Marie Dupont", street="Rue du Moulin 5", postal_code="1300", city="Wavre",
        language="fr", email="marie.dupont@example.com"),
    "english": parties.CustomerInput(
        name="Example Analytics", registration_name="Example Analytics SRL", street="Avenue Louise 54",
        postal_code="1050", city="Bruxelles", vat_number="BE0987654394", language="en",
        email="accounts@example.com"),
}


def new_owner(engine: Engine, email: str = "lien@example.be", profile: parties.ProfileInput | None = FREELANCER) -> int:
    """Sign up a freelancer and store the business details; returns the user id."""
    with session_scope(engine) as session:
        owner_id = sign_up(session, email=email, name="Lien Verbeke", password="x" * 12).id
        if profile is not None:
            parties.save_profile(session, owner_id, profile)
        return owner_id


def add_customer(engine: Engine, owner_id: int, key: str) -> int:
    with session_scope(engine) as session:
        return parties.save_customer(session, owner_id, CUSTOMERS[key]).id


def lines(*rows: tuple[str, str, str, str, str]) -> list[LineEntry]:
    """Build line entries from (description, quantity, unit code, unit price, VAT rate) rows."""
    return [LineEntry(description=row[0], quantity=row[1], unit_code=row[2], unit_price=row[3], vat_rate=row[4])
            for row in rows]


def draft(engine: Engine, owner_id: int, customer_id: int, entries: list[LineEntry], **options) -> int:
    with session_scope(engine) as session:
        return drafts.create_draft(session, owner_id, DraftInput(customer_id=customer_id, lines=entries,
                                                                 **options)).id


def issue(engine: Engine, owner_id: int, invoice_id: int, today: date | None = None) -> Invoice:
    with session_scope(engine, write_lock=True) as session:
        return issuing.issue(session, owner_id, invoice_id, today=today)


def issued(engine: Engine, owner_id: int, customer_id: int, entries: list[LineEntry], **options) -> Invoice:
    """Write and issue an invoice in one go."""
    today = options.pop("today", None)
    return issue(engine, owner_id, draft(engine, owner_id, customer_id, entries, **options), today)


def credit(engine: Engine, owner_id: int, invoice_id: int, entries: list[LineEntry] | None = None) -> Invoice:
    """Issue a credit note of the invoice: all its lines, or ``entries`` instead."""
    with session_scope(engine) as session:
        credit_note = issuing.create_credit_note(session, owner_id, invoice_id)
        if entries is not None:
            data = drafts.draft_input(session, credit_note)
            data.lines = entries
            drafts.update_draft(session, owner_id, credit_note.id, data)
        credit_note_id = credit_note.id
    return issue(engine, owner_id, credit_note_id)


SAMPLE_LINES = lines(
    ("Développement web, octobre 2026\nBoutique en ligne : paiement et suivi des commandes", "42", "HUR", "75", "21"),
    ("Hébergement et maintenance, octobre 2026", "1", "MON", "49.50", "21"),
    ("Manuel d'utilisation imprimé", "2", "C62", "18.40", "6"),
)


def sample_amounts() -> dict[str, Decimal]:
    """The totals of SAMPLE_LINES, computed by hand."""
    # 42 x 75 = 3150.00 and 49.50 at 21 %: 3199.50, VAT 671.895 -> 671.90.
    # 2 x 18.40 = 36.80 at 6 %: VAT 2.208 -> 2.21.
    return {"exclusive": Decimal("3236.30"), "tax": Decimal("674.11"), "payable": Decimal("3910.41")}

"""The freelancer's business details and customers: checks, storage, and the parties written
on invoices.

Enterprise and VAT numbers are checked with python-stdnum, IBANs and BICs with schwifty.
A Belgian party is reached on Peppol as ``0208:<enterprise number>``. A business in another
member state is reached by its VAT number under that country's EAS code. Anyone else is
reached by e-mail (scheme ``EM``), which EN 16931 accepts as an electronic address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import structlog
from babel import Locale
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlmodel import Session, select
from stdnum import get_cc_module
from stdnum.be import vat as be_vat
from stdnum.exceptions import ValidationError

from backend.core.time import utcnow
from backend.invoicing import errors
from backend.invoicing.models import CUSTOMER_KINDS, VAT_REGIMES, BusinessProfile, Customer
from backend.web.i18n import LANGUAGES

log = structlog.get_logger(__name__)

BELGIAN_ENTERPRISE_SCHEME = "0208"
EMAIL_SCHEME = "EM"
MAX_PAYMENT_TERMS_DAYS = 120
# EU member states, by ISO 3166-1 code. Greek VAT numbers start with EL instead of GR.
EU_COUNTRIES = frozenset(
    ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
)
VAT_PREFIXES = {"GR": "EL"}
# Peppol EAS codes that take a VAT number, per country (Peppol code list "EAS").
VAT_ENDPOINT_SCHEMES = {
    "AT": "9914", "BE": "9925", "BG": "9926", "CY": "9928", "CZ": "9929", "DE": "9930", "EE": "9931",
    "ES": "9920", "FR": "9957", "GR": "9933", "HR": "9934", "HU": "9910", "IE": "9935", "IT": "0211",
    "LT": "9937", "LU": "9938", "LV": "9939", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946",
    "RO": "9947", "SI": "9949", "SK": "9950",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRIES = frozenset(code for code in Locale("en").territories if re.fullmatch(r"[A-Z]{2}", code))


@dataclass
class ProfileInput:
    name: str
    street: str
    postal_code: str
    city: str
    enterprise_number: str
    iban: str
    registration_name: str = ""
    country: str = "BE"
    vat_number: str = ""
    vat_regime: str = "normal"
    bic: str = ""
    email: str = ""
    phone: str = ""
    number_prefix: str = ""
    payment_terms_days: int | str = 30
    debtor_management: bool = False


@dataclass
class CustomerInput:
    name: str
    street: str
    postal_code: str
    city: str
    kind: str = "company"
    registration_name: str = ""
    country: str = "BE"
    enterprise_number: str = ""
    vat_number: str = ""
    language: str = "fr"
    email: str = ""
    phone: str = ""
    contact_name: str = ""


# Checks


def clean(value: str | None, limit: int = 200) -> str:
    return " ".join((value or "").split())[:limit]


def check_enterprise_number(raw: str) -> str:
    """Return the ten digits of a Belgian enterprise number, written with or without dots."""
    try:
        return be_vat.validate(raw)
    except ValidationError:
        raise errors.InvalidEnterpriseNumberEntry(value=raw) from None


def check_vat_number(raw: str) -> str:
    """Return an EU VAT number in its compact form, country prefix included."""
    compact = re.sub(r"[\s.\-]", "", raw).upper()
    prefix = compact[:2]
    module = get_cc_module("gr" if prefix == "EL" else prefix.lower(), "vat") if len(compact) > 2 else None
    if module is None:
        raise errors.InvalidVatNumberEntry(value=raw)
    try:
        return prefix + module.validate(compact[2:]) if prefix != "BE" else "BE" + be_vat.validate(compact)
    except ValidationError:
        raise errors.InvalidVatNumberEntry(value=raw) from None


def check_country(raw: str) -> str:
    code = raw.strip().upper()
    if code not in _COUNTRIES:
        raise errors.InvalidCountryEntry(value=raw)
    return code


def check_email(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not _EMAIL.match(value) or len(value) > 254:
        raise errors.InvalidEmailEntry(value=raw)
    return value


def check_bank_account(iban_raw: str, bic_raw: str) -> tuple[str, str]:
    """Return the compact IBAN and its BIC, taken from schwifty's bank registry when not given."""
    try:
        iban = IBAN(iban_raw)
    except SchwiftyException:
        raise errors.InvalidIbanEntry(value=iban_raw) from None
    if bic_raw.strip():
        try:
            return iban.compact, str(BIC(bic_raw.strip()))
        except SchwiftyException:
            raise errors.InvalidBicEntry(value=bic_raw) from None
    if iban.bic is None:
        raise errors.UnknownBic(iban=iban.formatted)
    return iban.compact, str(iban.bic)


def _check_address(name: str, street: str, postal_code: str, city: str, country: str) -> None:
    if not name:
        raise errors.MissingName()
    if not (street and postal_code and city):
        raise errors.MissingAddress()
    if country == "BE" and not re.fullmatch(r"\d{4}", postal_code):
        raise errors.InvalidPostalCode(value=postal_code)


def _check_choice(value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise errors.InvalidChoice(value=value, choices=", ".join(choices))
    return value


# Business profile


def get_profile(session: Session, owner_id: int) -> BusinessProfile | None:
    return session.exec(select(BusinessProfile).where(BusinessProfile.owner_id == owner_id)).first()


def require_profile(session: Session, owner_id: int) -> BusinessProfile:
    profile = get_profile(session, owner_id)
    if profile is None:
        raise errors.BusinessProfileMissing()
    return profile


def save_profile(session: Session, owner_id: int, data: ProfileInput) -> BusinessProfile:
    """Check and store the freelancer's business details; later invoices use the new ones."""
    country = check_country(data.country or "BE")
    name, street, postal_code, city = (clean(data.name), clean(data.street), clean(data.postal_code, 10),
                                       clean(data.city, 100))
    _check_address(name, street, postal_code, city, country)
    enterprise_number = check_enterprise_number(data.enterprise_number)
    vat_regime = _check_choice(data.vat_regime, VAT_REGIMES)
    vat_number = check_vat_number(data.vat_number) if data.vat_number.strip() else None
    if vat_number is not None and vat_number.startswith("BE") and vat_number[2:] != enterprise_number:
        raise errors.VatNumberNotEnterpriseNumber(vat_number=vat_number, enterprise_number=enterprise_number)
    if vat_number is None:
        raise errors.VatNumberRequired()
    iban, bic = check_bank_account(data.iban, data.bic)
    terms = check_payment_terms(data.payment_terms_days)

    profile = get_profile(session, owner_id) or BusinessProfile(owner_id=owner_id, name=name, street=street,
                                                                 postal_code=postal_code, city=city,
                                                                 enterprise_number=enterprise_number, iban=iban)
    profile.name = name
    profile.registration_name = clean(data.registration_name) or None
    profile.street, profile.postal_code, profile.city, profile.country = street, postal_code, city, country
    profile.enterprise_number = enterprise_number
    profile.vat_number = vat_number
    profile.vat_regime = vat_regime
    profile.iban, profile.bic = iban, bic
    profile.email = check_email(data.email)
    profile.phone = clean(data.phone, 40) or None
    profile.number_prefix = re.sub(r"[^A-Za-z0-9/_-]", "", data.number_prefix)[:10]
    profile.payment_terms_days = terms
    profile.debtor_management = bool(data.debtor_management)
    profile.updated_at = utcnow()
    session.add(profile)
    session.flush()
    log.info("invoicing.profile_saved", owner_id=owner_id, vat_regime=vat_regime)
    return profile


def profile_input(profile: BusinessProfile | None) -> ProfileInput | None:
    """Return the stored details as form values, for the edit page."""
    if profile is None:
        return None
    values = {field.name: getattr(profile, field.name) or "" for field in fields(ProfileInput)}
    values["debtor_management"] = profile.debtor_management
    return ProfileInput(**values)


def check_payment_terms(raw: int | str) -> int:
    """Return a payment term in days, from 0 to MAX_PAYMENT_TERMS_DAYS."""
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise errors.InvalidPaymentTerm(value=raw) from None
    if not 0 <= days <= MAX_PAYMENT_TERMS_DAYS:
        raise errors.InvalidPaymentTerm(value=raw)
    return days


# Customers


def list_customers(session: Session, owner_id: int) -> list[Customer]:
    query = select(Customer).where(Customer.owner_id == owner_id).order_by(Customer.name, Customer.id)
    return list(session.exec(query))


def get_customer(session: Session, owner_id: int, customer_id: int) -> Customer:
    """Return the owner's customer; another owner's customer is reported as not found."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.owner_id != owner_id:
        raise errors.CustomerNotFound(customer_id=customer_id)
    return customer


def save_customer(session: Session, owner_id: int, data: CustomerInput,
                  customer_id: int | None = None) -> Customer:
    """Create a customer, or update ``customer_id``. Issued invoices keep the details they had."""
    kind = _check_choice(data.kind, CUSTOMER_KINDS)
    country = check_country(data.country or "BE")
    name, street, postal_code, city = (clean(data.name), clean(data.street), clean(data.postal_code, 10),
                                       clean(data.city, 100))
    _check_address(name, street, postal_code, city, country)
    language = _check_choice(data.language, LANGUAGES)

    enterprise_number = None
    vat_number = None
    if kind == "company":
        if data.enterprise_number.strip():
            enterprise_number = check_enterprise_number(data.enterprise_number)
        if data.vat_number.strip():
            vat_number = check_vat_number(data.vat_number)
        if vat_number is not None and vat_number.startswith("BE"):
            if enterprise_number is None:
                enterprise_number = vat_number[2:]
            elif vat_number[2:] != enterprise_number:
                raise errors.VatNumberNotEnterpriseNumber(vat_number=vat_number,
                                                          enterprise_number=enterprise_number)

    customer = get_customer(session, owner_id, customer_id) if customer_id is not None else Customer(
        owner_id=owner_id, name=name, street=street, postal_code=postal_code, city=city)
    customer.kind = kind
    customer.name = name
    customer.registration_name = clean(data.registration_name) or None if kind == "company" else None
    customer.street, customer.postal_code, customer.city, customer.country = street, postal_code, city, country
    customer.enterprise_number = enterprise_number
    customer.vat_number = vat_number
    customer.language = language
    customer.email = check_email(data.email)
    customer.phone = clean(data.phone, 40) or None
    customer.contact_name = clean(data.contact_name) or None
    session.add(customer)
    session.flush()
    log.info("invoicing.customer_saved", owner_id=owner_id, customer_id=customer.id, kind=kind)
    return customer


def peppol_identifier(customer: Customer) -> str | None:
    """Return the customer's Peppol participant id, ``0208:<enterprise number>``, if Belgian."""
    if customer.enterprise_number:
        return f"{BELGIAN_ENTERPRISE_SCHEME}:{customer.enterprise_number}"
    return None


def electronic_address(enterprise_number: str | None, vat_number: str | None, country: str | None,
                       email: str | None) -> tuple[str, str] | None:
    """Return the (EAS scheme, identifier) of a party, or None when it has none."""
    if enterprise_number and (country or "BE") == "BE":
        return BELGIAN_ENTERPRISE_SCHEME, enterprise_number
    if vat_number and vat_number[:2] != "BE":
        country_code = "GR" if vat_number[:2] == "EL" else vat_number[:2]
        scheme = VAT_ENDPOINT_SCHEMES.get(country_code)
        if scheme is not None:
            return scheme, vat_number
    if email:
        return EMAIL_SCHEME, email
    return None


def is_intra_eu_business(customer: Customer) -> bool:
    """Return whether the customer is a business registered for VAT in another member state."""
    return (customer.kind == "company" and customer.country != "BE" and customer.country in EU_COUNTRIES
            and customer.vat_number is not None and not customer.vat_number.startswith("BE"))


def default_scheme(profile: BusinessProfile, customer: Customer) -> str:
    """Return the VAT scheme a new invoice to ``customer`` starts with."""
    if profile.vat_regime == "small_business":
        return "small_business"
    if is_intra_eu_business(customer):
        return "intra_eu_services"
    return "standard"


def supplier_party(profile: BusinessProfile) -> dict:
    """Return the supplier's InvoiceParty fields as the invoice writes them."""
    return {
        "role": "supplier",
        "name": profile.name,
        "registration_name": profile.registration_name or profile.name,
        "vat_number": profile.vat_number,
        "enterprise_number": profile.enterprise_number,
        "street": profile.street,
        "additional_street": None,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "country": profile.country,
        "email": profile.email,
        "phone": profile.phone,
        "contact_name": None,
        "endpoint_scheme": BELGIAN_ENTERPRISE_SCHEME,
        "endpoint_id": profile.enterprise_number,
    }


def customer_party(customer: Customer) -> dict:
    """Return the customer's InvoiceParty fields as the invoice writes them."""
    address = electronic_address(customer.enterprise_number, customer.vat_number, customer.country,
                                 customer.email)
    return {
        "role": "customer",
        "name": customer.name,
        "registration_name": customer.registration_name or customer.name,
        "vat_number": customer.vat_number,
        "enterprise_number": customer.enterprise_number,
        "street": customer.street,
        "additional_street": None,
        "city": customer.city,
        "postal_code": customer.postal_code,
        "country": customer.country,
        "email": customer.email,
        "phone": customer.phone,
        "contact_name": customer.contact_name,
        "endpoint_scheme": address[0] if address else None,
        "endpoint_id": address[1] if address else None,
    }

"""Reading the supplier and customer of a Peppol BIS Billing 3.0 document, with their
enterprise and VAT numbers checked."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.be import vat as be_vat
from stdnum.exceptions import ValidationError

from backend.invoicing import errors
from backend.invoicing.ubl import UblReader

# Peppol participant scheme of the Belgian enterprise number (Crossroads Bank for Enterprises).
BELGIAN_ENTERPRISE_SCHEME = "0208"
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class ParsedParty:
    role: str
    name: str
    registration_name: str | None
    vat_number: str | None
    enterprise_number: str | None
    street: str | None
    additional_street: str | None
    city: str | None
    postal_code: str | None
    country: str | None
    email: str | None
    phone: str | None
    contact_name: str | None
    endpoint_scheme: str | None = None
    endpoint_id: str | None = None

    @property
    def key(self) -> str:
        """The identity of the party across its invoices: enterprise number, VAT number or name."""
        if self.enterprise_number:
            return self.enterprise_number
        if self.vat_number:
            return self.vat_number
        return "name:" + " ".join(self.name.split()).casefold()[:200]


def read_party(root: UblReader, path: str, role: str) -> ParsedParty:
    party = root.child(path)
    if party is None:
        raise errors.MissingElement(element=root.name(path))

    registration_name = party.text("cac:PartyLegalEntity/cbc:RegistrationName")
    trading_name = party.text("cac:PartyName/cbc:Name")
    if registration_name is None and trading_name is None:
        raise errors.MissingElement(element=party.name("cac:PartyLegalEntity/cbc:RegistrationName"))
    country_path = "cac:PostalAddress/cac:Country/cbc:IdentificationCode"
    country = party.required(country_path)
    if not _COUNTRY.match(country):
        raise errors.InvalidCountry(element=party.name(country_path), value=country)

    vat_number = _read_vat_number(party)
    enterprise_number = _read_enterprise_number(party, country)
    if enterprise_number is None and vat_number is not None and vat_number.startswith("BE"):
        # A Belgian VAT number is BE followed by the enterprise number.
        enterprise_number = vat_number[2:]

    endpoint = party.element("cbc:EndpointID")
    endpoint_id = " ".join(endpoint.text.split()) if endpoint is not None and endpoint.text else None

    return ParsedParty(
        role=role,
        endpoint_scheme=endpoint.get("schemeID") if endpoint_id else None,
        endpoint_id=endpoint_id,
        name=trading_name or registration_name,
        registration_name=registration_name,
        vat_number=vat_number,
        enterprise_number=enterprise_number,
        street=party.text("cac:PostalAddress/cbc:StreetName"),
        additional_street=party.text("cac:PostalAddress/cbc:AdditionalStreetName"),
        city=party.text("cac:PostalAddress/cbc:CityName"),
        postal_code=party.text("cac:PostalAddress/cbc:PostalZone"),
        country=country,
        email=party.text("cac:Contact/cbc:ElectronicMail"),
        phone=party.text("cac:Contact/cbc:Telephone"),
        contact_name=party.text("cac:Contact/cbc:Name"),
    )


def _read_vat_number(party: UblReader) -> str | None:
    for tax_scheme in party.children("cac:PartyTaxScheme"):
        if tax_scheme.text("cac:TaxScheme/cbc:ID") != "VAT":
            continue
        value = tax_scheme.text("cbc:CompanyID")
        if value is None:
            continue
        compact = re.sub(r"[\s.\-]", "", value).upper()
        if compact.startswith("BE"):
            try:
                return "BE" + be_vat.validate(compact)
            except ValidationError:
                raise errors.InvalidVatNumber(element=tax_scheme.name("cbc:CompanyID"), value=value) from None
        return compact
    return None


def _read_enterprise_number(party: UblReader, country: str) -> str | None:
    """Return the first Belgian enterprise number of the party, checking every one found.

    Identifiers with scheme 0208 are enterprise numbers. A legal-entity CompanyID without a
    scheme is taken as one too when the party's address is in Belgium.
    """
    candidates: list[tuple[str, str]] = []
    for path in ("cbc:EndpointID", "cac:PartyIdentification/cbc:ID", "cac:PartyLegalEntity/cbc:CompanyID"):
        for reader in party.children(path):
            scheme = reader.node.get("schemeID")
            belgian_without_scheme = scheme is None and country == "BE" and path.endswith("CompanyID")
            if (scheme == BELGIAN_ENTERPRISE_SCHEME or belgian_without_scheme) and reader.node.text:
                candidates.append((reader.prefix, reader.node.text.strip()))

    found = None
    for name, value in candidates:
        try:
            number = be_vat.validate(value)
        except ValidationError:
            raise errors.InvalidEnterpriseNumber(element=name, value=value) from None
        found = found or number
    return found

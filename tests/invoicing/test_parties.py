"""Business details and customers: number checks, electronic addresses and VAT schemes."""

from __future__ import annotations

import pytest

from backend.core.db import session_scope
from backend.invoicing import drafts, errors, parties
from tests.invoicing import factories


def profile_with(**changes) -> parties.ProfileInput:
    return parties.ProfileInput(**{**factories.FREELANCER.__dict__, **changes})


def customer_with(key: str, **changes) -> parties.CustomerInput:
    return parties.CustomerInput(**{**factories.CUSTOMERS[key].__dict__, **changes})


def test_profile_stored_compact(engine):
    owner_id = factories.new_owner(engine)

    with session_scope(engine) as session:
        profile = parties.require_profile(session, owner_id)

    assert (profile.enterprise_number, profile.vat_number) == ("0478123490", "BE0478123490")
    assert (profile.iban, profile.bic) == ("BE56363123456788", "BBRUBEBB")


@pytest.mark.parametrize(("changes", "expected", "fragment"), [
    ({"enterprise_number": "0478.123.491"}, errors.InvalidEnterpriseNumberEntry, "0478.123.491"),
    ({"vat_number": "BE0799100252"}, errors.VatNumberNotEnterpriseNumber, "0478123490"),
    ({"vat_number": ""}, errors.VatNumberRequired, "BE"),
    ({"vat_number": "XX123"}, errors.InvalidVatNumberEntry, "XX123"),
    ({"iban": "BE56 3631 2345 6789"}, errors.InvalidIbanEntry, "BE56 3631 2345 6789"),
    ({"bic": "BB!"}, errors.InvalidBicEntry, "BB!"),
    ({"postal_code": "900"}, errors.InvalidPostalCode, "900"),
    ({"street": ""}, errors.MissingAddress, "street"),
    ({"name": " "}, errors.MissingName, "name"),
    ({"country": "Belgium"}, errors.InvalidCountryEntry, "Belgium"),
    ({"email": "lien@"}, errors.InvalidEmailEntry, "lien@"),
    ({"payment_terms_days": "365"}, errors.InvalidPaymentTerm, "365"),
    ({"vat_regime": "exempt"}, errors.InvalidChoice, "exempt"),
])
def test_profile_rejects(engine, changes, expected, fragment):
    with pytest.raises(expected) as caught:
        factories.new_owner(engine, profile=profile_with(**changes))

    assert fragment in str(caught.value)
    assert caught.value.status_code == 422


@pytest.mark.parametrize(("key", "changes", "address"), [
    ("brasserie", {}, ("0208", "0123456749")),
    ("dutch", {}, ("9944", "NL004495445B01")),
    ("french", {}, ("9957", "FR40303265045")),
    ("consumer", {}, ("EM", "marie.dupont@example.com")),
    ("bouw", {"vat_number": "", "enterprise_number": "0876.543.270"}, ("0208", "0876543270")),
])
def test_customer_electronic_address(engine, key, changes, address):
    owner_id = factories.new_owner(engine)
    with session_scope(engine) as session:
        customer = parties.save_customer(session, owner_id, customer_with(key, **changes))
        party = parties.customer_party(customer)

    assert (party["endpoint_scheme"], party["endpoint_id"]) == address


def test_belgian_customer_peppol_identifier(engine):
    owner_id = factories.new_owner(engine)
    with session_scope(engine) as session:
        customer = parties.save_customer(session, owner_id, factories.CUSTOMERS["brasserie"])

        assert customer.enterprise_number == "0123456749"
        assert parties.peppol_identifier(customer) == "0208:0123456749"


def test_customers_of_other_owners_hidden(engine):
    owner_id = factories.new_owner(engine, "one@example.be")
    other_id = factories.new_owner(engine, "two@example.be")
    customer_id = factories.add_customer(engine, owner_id, "brasserie")

    with pytest.raises(errors.CustomerNotFound), session_scope(engine) as session:
        parties.get_customer(session, other_id, customer_id)


@pytest.mark.parametrize(("profile", "customer", "scheme"), [
    (factories.FREELANCER, "brasserie", "standard"),
    (factories.FREELANCER, "consumer", "standard"),
    (factories.FREELANCER, "dutch", "intra_eu_services"),
    (factories.SMALL_BUSINESS, "dutch", "small_business"),
])
def test_default_scheme(engine, profile, customer, scheme):
    owner_id = factories.new_owner(engine, profile=profile)
    customer_id = factories.add_customer(engine, owner_id, customer)
    invoice_id = factories.draft(engine, owner_id, customer_id, factories.SAMPLE_LINES)

    with session_scope(engine) as session:
        from backend.invoicing.service import get_invoice

        assert get_invoice(session, invoice_id).vat_scheme == scheme


@pytest.mark.parametrize(("profile", "customer", "scheme", "expected"), [
    (factories.FREELANCER, "brasserie", "intra_eu_services", errors.IntraEuNeedsForeignVatNumber),
    (factories.FREELANCER, "consumer", "domestic_reverse_charge", errors.ReverseChargeNeedsVatNumber),
    (factories.FREELANCER, "french", "intra_eu_goods", errors.DeliveryDateRequired),
    (factories.FREELANCER, "brasserie", "small_business", errors.SmallBusinessSchemeNotYours),
    (factories.SMALL_BUSINESS, "brasserie", "standard", errors.SmallBusinessSchemeOnly),
])
def test_scheme_refused(engine, profile, customer, scheme, expected):
    owner_id = factories.new_owner(engine, profile=profile)
    customer_id = factories.add_customer(engine, owner_id, customer)

    with pytest.raises(expected):
        factories.draft(engine, owner_id, customer_id, factories.SAMPLE_LINES, vat_scheme=scheme)


@pytest.mark.parametrize(("row", "expected"), [
    (("", "1", "HUR", "10", "21"), errors.MissingLineDescription),
    (("Travail", "abc", "HUR", "10", "21"), errors.InvalidQuantity),
    (("Travail", "0", "HUR", "10", "21"), errors.InvalidQuantity),
    (("Travail", "1.00001", "HUR", "10", "21"), errors.InvalidQuantity),
    (("Travail", "1", "HUR", "10,123456", "21"), errors.InvalidUnitPrice),
    (("Travail", "1", "HUR", "10", "19"), errors.InvalidVatRate),
    (("Travail", "1", "XYZ", "10", "21"), errors.UnknownUnitCode),
])
def test_line_rejected(engine, row, expected):
    owner_id = factories.new_owner(engine)
    customer_id = factories.add_customer(engine, owner_id, "brasserie")

    with pytest.raises(expected):
        factories.draft(engine, owner_id, customer_id, factories.lines(row))


def test_empty_rows_skipped_and_commas_accepted():
    entries = factories.lines(("Travail", "7,5", "HUR", "82,50", "21"), ("", "", "HUR", "", "21"))

    [line] = drafts.parse_lines(entries, "standard")

    assert (str(line.quantity), str(line.unit_price)) == ("7.5000", "82.5000")


def test_no_lines_rejected():
    with pytest.raises(errors.NoLines):
        drafts.parse_lines(factories.lines(("", "", "HUR", "", "21")), "standard")

"""Peppol BIS Billing 3.0 files of issued documents: UBL 2.1 schema and business rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from backend.core.db import session_scope
from backend.invoicing import peppol_export, peppol_validation, service
from backend.invoicing.peppol_export import export_ubl
from tests.invoicing import factories
from tests.invoicing.factories import lines

NS = {"cac": peppol_validation.CAC, "cbc": peppol_validation.CBC}

# (case, customer, business details, VAT scheme, lines, credit note lines or None)
DOCUMENTS = [
    ("standard rates", "brasserie", factories.FREELANCER, None,
     lines(("Développement", "42", "HUR", "75", "21"), ("Livre", "3", "C62", "12.3333", "6"),
           ("Séance", "1", "C62", "80", "12"), ("Journal", "2", "C62", "1.55", "0")), None),
    ("rounding cases", "brasserie", factories.FREELANCER, None,
     lines(("Prix fin", "2", "C62", "7.2025", "21"), ("Petit", "1", "C62", "2.50", "21"),
           ("Petit", "1", "C62", "2.50", "21"), ("Ajustement", "1", "C62", "-12.50", "21"),
           ("Zéro", "1", "C62", "50", "0"), ("Réduit", "0.3", "C62", "1.55", "6")), None),
    ("small business exemption", "consumer", factories.SMALL_BUSINESS, "small_business",
     lines(("Atelier de céramique", "3", "HUR", "45", "21")), None),
    ("intra-EU services", "dutch", factories.FREELANCER, "intra_eu_services",
     lines(("Consultancy", "16", "HUR", "95", "21")), None),
    ("domestic reverse charge", "bouw", factories.FREELANCER, "domestic_reverse_charge",
     lines(("Plaatsing bekabeling", "12", "HUR", "60", "21")), None),
    ("intra-Community goods", "french", factories.FREELANCER, "intra_eu_goods",
     lines(("Serveur reconditionné", "2", "C62", "640", "21")), None),
    ("credit note, standard", "brasserie", factories.FREELANCER, None,
     lines(("Développement", "10", "HUR", "75", "21"), ("Frais", "1", "C62", "12.50", "21")),
     lines(("Frais", "1", "C62", "12.50", "21"))),
    ("credit note, reverse charge", "dutch", factories.FREELANCER, "intra_eu_services",
     lines(("Consultancy", "16", "HUR", "95", "21")), lines(("Consultancy", "4", "HUR", "95", "21"))),
]


def issue_case(engine, owner_email, customer, profile, scheme, invoice_lines, credit_lines):
    owner_id = factories.new_owner(engine, owner_email, profile=profile)
    customer_id = factories.add_customer(engine, owner_id, customer)
    options = {"vat_scheme": scheme} if scheme else {}
    if scheme == "intra_eu_goods":
        options["delivery_date"] = date(2026, 10, 28)
    invoice = factories.issued(engine, owner_id, customer_id, invoice_lines, buyer_reference="PO-1", **options)
    document = factories.credit(engine, owner_id, invoice.id, credit_lines) if credit_lines else invoice
    with session_scope(engine) as session:
        return owner_id, document, export_ubl(service.get_invoice_detail(session, owner_id, document.id))


@pytest.mark.parametrize(("customer", "profile", "scheme", "invoice_lines", "credit_lines"),
                         [pytest.param(*case[1:], id=case[0]) for case in DOCUMENTS])
def test_every_regime_passes_schema_and_rules(engine, customer, profile, scheme, invoice_lines, credit_lines):
    _owner_id, document, xml = issue_case(engine, "lien@example.be", customer, profile, scheme, invoice_lines,
                                          credit_lines)

    assert peppol_validation.validate_schema(xml) == []
    assert peppol_validation.check_rules(xml) == []
    root = etree.fromstring(xml)
    assert etree.QName(root).localname == ("CreditNote" if credit_lines else "Invoice")
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == peppol_export.CUSTOMIZATION_ID
    assert root.findtext("cbc:ProfileID", namespaces=NS) == peppol_export.PROFILE_ID
    assert root.find("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID", NS).get("schemeID") == "0208"
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS) == f"{document.payable_amount:.2f}"


def test_schema_and_rules_on_both_databases(db_engine):
    """The files agree with the schema and the rules whatever the database stored them in."""
    for index in (1, 6):
        case = DOCUMENTS[index]
        _owner_id, _document, xml = issue_case(db_engine, f"case{index}@example.be", *case[1:])
        assert peppol_validation.validate_schema(xml) == []
        assert peppol_validation.check_rules(xml) == []


def test_breakdown_per_category_and_rate(engine):
    _owner_id, _document, xml = issue_case(engine, "lien@example.be", *DOCUMENTS[0][1:])
    root = etree.fromstring(xml)

    breakdown = [(item.findtext("cac:TaxCategory/cbc:ID", namespaces=NS),
                  item.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS),
                  item.findtext("cbc:TaxableAmount", namespaces=NS), item.findtext("cbc:TaxAmount", namespaces=NS))
                 for item in root.findall("cac:TaxTotal/cac:TaxSubtotal", NS)]
    # 36.9999 -> 37.00 at 6 %: 2.22; 80 at 12 %: 9.60; 3150 at 21 %: 661.50; 3.10 at 0 %.
    assert breakdown == [("S", "21", "3150.00", "661.50"), ("S", "12", "80.00", "9.60"),
                         ("S", "6", "37.00", "2.22"), ("Z", "0", "3.10", "0.00")]
    assert root.findtext("cac:InvoiceLine[2]/cac:Price/cbc:PriceAmount", namespaces=NS) == "12.3333"


@pytest.mark.parametrize(("case", "code", "reason"), [
    (2, None, "Régime particulier de la franchise de taxe"),
    (3, "VATEX-EU-AE", "Verlegging van heffing: de btw is verschuldigd door de afnemer"),
    (5, "VATEX-EU-IC", "Livraison intracommunautaire exemptée"),
])
def test_exemption_reason_and_code(engine, case, code, reason):
    _owner_id, _document, xml = issue_case(engine, "lien@example.be", *DOCUMENTS[case][1:])
    category = etree.fromstring(xml).find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)

    assert category.findtext("cbc:TaxExemptionReasonCode", namespaces=NS) == code
    assert category.findtext("cbc:TaxExemptionReason", namespaces=NS).startswith(reason)


def test_credit_note_references_invoice(engine):
    _owner_id, document, xml = issue_case(engine, "lien@example.be", *DOCUMENTS[6][1:])
    root = etree.fromstring(xml)

    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    assert root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS) == \
        document.billing_reference
    assert root.findtext("cac:CreditNoteLine/cbc:CreditedQuantity", namespaces=NS) == "1"
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS) == "15.13"
    assert root.find("cac:PaymentMeans/cbc:PaymentID", NS) is None


def _xml_of_first_case(engine) -> bytes:
    return issue_case(engine, "lien@example.be", *DOCUMENTS[1][1:])[2]


def _edit(xml: bytes, path: str, value: str) -> bytes:
    root = etree.fromstring(xml)
    root.find(path, NS).text = value
    return etree.tostring(root)


@pytest.mark.parametrize(("path", "value", "rule"), [
    ("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "100.00", "BR-CO-10"),
    ("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "100.00", "BR-CO-15"),
    ("cac:LegalMonetaryTotal/cbc:PayableAmount", "100.00", "BR-CO-16"),
    ("cac:TaxTotal/cac:TaxSubtotal[1]/cbc:TaxAmount", "1.59", "BR-CO-17"),
    ("cac:TaxTotal/cac:TaxSubtotal[1]/cbc:TaxableAmount", "7.51", "BR-S-08"),
    ("cac:InvoiceLine[1]/cbc:LineExtensionAmount", "14.45", "PEPPOL-EN16931-R120"),
    ("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", "0123456748", "PEPPOL-COMMON-R043"),
    ("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID", "478123490", "PEPPOL-COMMON-R043"),
])
def test_rules_catch_broken_files(engine, path, value, rule):
    xml = _edit(_xml_of_first_case(engine), path, value)

    assert rule in {violation.rule for violation in peppol_validation.check_rules(xml)}


def test_rule_e08_catches_wrong_exempt_base(engine):
    xml = issue_case(engine, "lien@example.be", *DOCUMENTS[2][1:])[2]
    broken = _edit(xml, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount", "130.00")

    assert {violation.rule for violation in peppol_validation.check_rules(broken)} >= {"BR-E-08"}


def test_rule_r120_accepts_two_cents_of_slack(engine):
    xml = _xml_of_first_case(engine)
    # 2 x 7.2025 = 14.405: 14.41 is 0.005 away, 14.39 is 0.015 away, 14.43 is 0.025 away.
    near = _edit(xml, "cac:InvoiceLine[1]/cbc:LineExtensionAmount", "14.39")
    far = _edit(xml, "cac:InvoiceLine[1]/cbc:LineExtensionAmount", "14.43")

    assert "PEPPOL-EN16931-R120" not in {violation.rule for violation in peppol_validation.check_rules(near)}
    assert "PEPPOL-EN16931-R120" in {violation.rule for violation in peppol_validation.check_rules(far)}


def test_schema_catches_misordered_element(engine):
    root = etree.fromstring(_xml_of_first_case(engine))
    due_date = root.find("cbc:DueDate", NS)
    root.remove(due_date)
    root.append(due_date)

    assert peppol_validation.validate_schema(etree.tostring(root)) != []


def test_rounding_case_amounts(engine):
    _owner_id, document, _xml = issue_case(engine, "lien@example.be", *DOCUMENTS[1][1:])

    # 21 %: 14.41 + 2.50 + 2.50 - 12.50 = 6.91, VAT 1.4511 -> 1.45; 6 %: 0.47 at 6 % = 0.03; 0 %: 50.00.
    assert document.tax_exclusive_amount == Decimal("57.38")
    assert document.tax_amount == Decimal("1.48")
    assert document.payable_amount == Decimal("58.86")

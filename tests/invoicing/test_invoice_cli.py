from __future__ import annotations

import pytest
from click.testing import CliRunner

from backend.accounts.service import sign_up
from backend.core.db import session_scope
from backend.invoicing.cli import import_invoice_command, invoice
from tests.conftest import SAMPLE_INVOICE
from tests.invoicing.helpers import count_rows


@pytest.fixture
def owner(engine) -> str:
    with session_scope(engine) as session:
        sign_up(session, email="lien@example.be", name="Lien Verbeke", password="x" * 12)
    return "lien@example.be"


def test_import_prints_number_amount_debtor(owner, engine):
    result = CliRunner().invoke(import_invoice_command, [str(SAMPLE_INVOICE), "--owner", owner])

    assert result.exit_code == 0, result.output
    assert "2026-0117" in result.output
    assert "3921.61 EUR" in result.output
    assert "Brasserie du Quai" in result.output
    assert count_rows(engine)["invoices"] == 1


def test_import_through_group(owner, engine):
    result = CliRunner().invoke(invoice, ["import", str(SAMPLE_INVOICE), "--owner", "LIEN@example.be"])

    assert result.exit_code == 0, result.output
    assert count_rows(engine)["invoices"] == 1


def test_duplicate_prints_error_exit_1(owner, engine):
    runner = CliRunner()
    runner.invoke(import_invoice_command, [str(SAMPLE_INVOICE), "--owner", owner])

    result = runner.invoke(import_invoice_command, [str(SAMPLE_INVOICE), "--owner", owner])

    assert result.exit_code == 1
    assert result.output.startswith("ikki: Invoice 2026-0117 from Lien Verbeke Webontwikkeling is already imported.")
    assert count_rows(engine)["invoices"] == 1


def test_unknown_owner_exit_1(settings, engine):
    result = CliRunner().invoke(import_invoice_command, [str(SAMPLE_INVOICE), "--owner", "nobody@example.be"])

    assert result.exit_code == 1
    assert "ikki: No account has the e-mail address nobody@example.be." in result.output
    assert count_rows(engine)["invoices"] == 0


def test_bad_file_exit_1(owner, engine, tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_bytes(SAMPLE_INVOICE.read_bytes().replace(b"3921.61", b"3921.00"))

    result = CliRunner().invoke(import_invoice_command, [str(broken), "--owner", owner])

    assert result.exit_code == 1
    assert result.output.startswith("ikki: The element cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount is 3921.00")
    assert count_rows(engine)["invoices"] == 0


def test_file_over_limit_exit_1(owner, engine, settings, tmp_path):
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * (settings.max_upload_bytes + 1))

    result = CliRunner().invoke(import_invoice_command, [str(big), "--owner", owner])

    assert result.exit_code == 1
    assert f"over the limit of {settings.max_upload_bytes} bytes" in result.output

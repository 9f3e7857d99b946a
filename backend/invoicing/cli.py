"""``ikki invoice``: invoices from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlmodel import select

from backend.accounts.models import User
from backend.accounts.service import normalize_email
from backend.core.db import session_scope
from backend.core.errors import IkkiError, NotFound
from backend.core.settings import get_settings
from backend.invoicing import errors, service


class OwnerNotFound(NotFound):
    message = "No account has the e-mail address {email}. Sign up first, or check the address."


@click.group("invoice")
def invoice() -> None:
    """Invoices: import Peppol files, issue the platform's monthly fee invoices."""


@invoice.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--owner", "owner_email", required=True, help="e-mail address of the freelancer who owns the invoice")
def import_invoice_command(file: Path, owner_email: str) -> None:
    """Import FILE, a Peppol BIS Billing 3.0 invoice (UBL XML), for the freelancer --owner."""
    try:
        limit = get_settings().max_upload_bytes
        size = file.stat().st_size
        if size > limit:
            raise errors.FileTooLarge(filename=file.name, size=size, limit=limit)
        data = file.read_bytes()
        with session_scope(write_lock=True) as session:
            # TODO: use an accounts service lookup by e-mail once accounts offers one.
            owner = session.exec(select(User).where(User.email == normalize_email(owner_email))).first()
            if owner is None:
                raise OwnerNotFound(email=owner_email)
            imported = service.import_invoice(session, owner.id, data, file.name)
            contact = service.debtor_contact(session, imported.id)
    except IkkiError as error:
        click.echo(f"ikki: {error}", err=True)
        sys.exit(1)

    click.echo(f"Imported invoice {contact.invoice_number} (id {contact.invoice_id}): "
               f"{contact.amount_due} {contact.currency} due by {contact.debtor_name} on "
               f"{contact.due_date.isoformat()}.")


@invoice.command("fees")
@click.option("--month", "month_text", required=True, help="month of the fees, as YYYY-MM")
def fees_command(month_text: str) -> None:
    """Issue the platform's fee invoices of --month and queue their e-mails.

    Running a month again issues only what is missing.
    """
    from backend.invoicing import fees

    try:
        year, month = (int(part) for part in month_text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError(month_text)
    except ValueError:
        click.echo(f"ikki: invalid month {month_text}: write it as YYYY-MM, such as 2026-11", err=True)
        sys.exit(2)
    try:
        with session_scope(write_lock=True) as session:
            run = fees.run_monthly_fees(session, get_settings(), year, month)
            issued = [(invoice.number, invoice.payable_amount) for invoice in run.issued]
    except IkkiError as error:
        click.echo(f"ikki: {error}", err=True)
        sys.exit(1)

    for number, amount in issued:
        click.echo(f"Issued fee invoice {number}: {amount} EUR.")
    for payer_kind, payer_id, reason in run.skipped:
        click.echo(f"Skipped {payer_kind} {payer_id}: {reason}.")
    click.echo(f"{len(issued)} fee invoices issued for {year}-{month:02d}.")

"""The ``ikki`` command: one group per area, errors printed as ``ikki: message``."""

from __future__ import annotations

import sys

import click

from backend.core.errors import IkkiError


class IkkiGroup(click.Group):
    """Prints expected errors as ``ikki: message`` with exit status 1, not as a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IkkiError as error:
            click.echo(f"ikki: {error}", err=True)
            sys.exit(1)


@click.group(cls=IkkiGroup)
def main() -> None:
    """Ikki: freelancers, invoices, collection and the crying invoice."""


@main.command()
@click.option("--host", default=None, help="address to listen on (default: IKKI_HOST, 127.0.0.1)")
@click.option("--port", default=None, type=int, help="HTTP port (default: IKKI_PORT, 8000)")
def up(host: str | None, port: int | None) -> None:
    """Start the whole product on its settings: web, broker, ingestion, worker, virtual sticker."""
    from backend.runtime import run_product

    run_product(host=host, port=port)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the database of IKKI_DATABASE_URL."""
    from backend.core.db import migrate
    from backend.core.logging import configure_logging
    from backend.core.settings import get_settings

    configure_logging(get_settings().environment)
    migrate()
    click.echo("Database is up to date.")


@main.command()
def worker() -> None:
    """Run outbox jobs (e-mails, calls) until interrupted."""
    from backend.runtime import run_worker

    run_worker()


@main.group()
def demo() -> None:
    """Demo data."""


def _mount_groups() -> None:
    from backend.collection.cli import collection
    from backend.devices.cli import mqtt, stickers_admin
    from backend.invoicing.cli import invoice
    from backend.marketplace.seed import seed_command
    from provisioning.cli import station
    from simulator.cli import sticker
    from simulator.fleet_cli import fleet

    main.add_command(invoice)
    main.add_command(collection)
    main.add_command(sticker)
    main.add_command(fleet)
    main.add_command(mqtt)
    main.add_command(stickers_admin)
    main.add_command(station)
    demo.add_command(seed_command)


_mount_groups()

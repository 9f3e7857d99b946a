"""Time issuing invoices with their PDF and UBL file, on SQLite and on PostgreSQL.

One issue is what the web pages do for a freelancer. A draft of three lines is written in
one transaction and issued in a second one, which takes the next number under the series
lock. Then its PDF is rendered and its Peppol UBL file written. The baseline is rendering
the PDF of the same invoice alone, measured in the same run, so the ratio shows what the
database work and the UBL file add to the PDF, which dominates.

SQLite runs on a scratch file in a temporary folder. PostgreSQL runs on a scratch database
created on the server of IKKI_TEST_POSTGRES_URL (default: 127.0.0.1:5432 as postgres) and
dropped at the end.

    uv run python benchmarks/invoicing.py [--invoices 40] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.accounts.service import sign_up
from backend.core import db as core_db
from backend.core.db import session_scope
from backend.core.logging import configure_logging
from backend.invoicing import documents, drafts, issuing, parties, peppol_export, service
from backend.invoicing.drafts import DraftInput, LineEntry

ADMIN_URL = os.environ.get("IKKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LINES = [
    LineEntry("Développement web, octobre 2026\nBoutique en ligne", "42", "75", "HUR", "21"),
    LineEntry("Hébergement et maintenance", "1", "49.50", "MON", "21"),
    LineEntry("Manuel d'utilisation imprimé", "2", "18.40", "C62", "6"),
]


def admin_engine() -> sa.Engine:
    return sa.create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


def prepare(url: str) -> tuple[sa.Engine, int, int]:
    """Migrate a scratch database and store one freelancer and one customer."""
    core_db.migrate(url)
    engine = core_db.get_engine(url)
    with session_scope(engine) as session:
        owner_id = sign_up(session, email="bench@example.be", name="Bench", password="x" * 12).id
        parties.save_profile(session, owner_id, parties.ProfileInput(
            name="Lien Verbeke", street="Voorbeeldstraat 12", postal_code="9000", city="Gent",
            enterprise_number="0478123490", vat_number="BE0478123490", iban="BE56363123456788"))
        customer_id = parties.save_customer(session, owner_id, parties.CustomerInput(
            name="Brasserie du Quai", street="Quai des Exemples 7", postal_code="5000", city="Namur",
            vat_number="BE0123456749", email="compta@example.com")).id
    return engine, owner_id, customer_id


def issue_with_documents(engine: sa.Engine, owner_id: int, customer_id: int) -> dict[str, float]:
    """Write, issue and render one invoice; return the seconds of each phase."""
    started = time.perf_counter()
    with session_scope(engine) as session:
        draft_id = drafts.create_draft(session, owner_id, DraftInput(customer_id=customer_id, lines=LINES)).id
    with session_scope(engine) as session:
        issuing.issue(session, owner_id, draft_id)
        detail = service.get_invoice_detail(session, owner_id, draft_id)
    stored = time.perf_counter()
    peppol_export.export_ubl(detail)
    exported = time.perf_counter()
    documents.render_invoice_pdf(detail)
    rendered = time.perf_counter()
    return {"database": stored - started, "ubl": exported - stored, "total": rendered - started}


def measure(label: str, url: str, arguments: argparse.Namespace) -> dict:
    engine, owner_id, customer_id = prepare(url)
    # The first issue loads fonts and templates, so it is not timed.
    issue_with_documents(engine, owner_id, customer_id)
    with session_scope(engine) as session:
        first = session.exec(sa.select(service.Invoice.id).order_by(service.Invoice.id)).first()[0]
        detail = service.get_invoice_detail(session, owner_id, first)

    # Baseline and issues alternate, so that a load on the machine weighs on both alike.
    pdf_times = []
    phases = []
    for _ in range(arguments.invoices):
        started = time.perf_counter()
        documents.render_invoice_pdf(detail)
        pdf_times.append(time.perf_counter() - started)
        phases.append(issue_with_documents(engine, owner_id, customer_id))

    pdf_alone = statistics.median(pdf_times)
    per_issue = statistics.median(phase["total"] for phase in phases)
    return {"database": label, "invoices": arguments.invoices,
            "per_second": len(phases) / sum(phase["total"] for phase in phases),
            "issue_ms": per_issue * 1000, "pdf_ms": pdf_alone * 1000, "ratio": per_issue / pdf_alone,
            "store_ms": statistics.median(phase["database"] for phase in phases) * 1000,
            "ubl_ms": statistics.median(phase["ubl"] for phase in phases) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=40, help="invoices issued per database")
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    arguments = parser.parse_args()
    configure_logging(level=logging.WARNING)

    results = []
    with tempfile.TemporaryDirectory(prefix="ikki-bench-") as folder:
        results.append(measure("SQLite", f"sqlite:///{folder}/bench.db", arguments))
        core_db.dispose_engines()
    if not arguments.skip_postgres:
        name = f"ikki_bench_{uuid.uuid4().hex[:10]}"
        with admin_engine().connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            results.append(measure("PostgreSQL", ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", arguments))
        finally:
            core_db.dispose_engines()
            with admin_engine().connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print("| database | invoices | issued per second | issue + PDF + UBL | draft and issue | UBL | PDF alone | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in results:
        print(f"| {row['database']} | {row['invoices']} | {row['per_second']:.1f} | {row['issue_ms']:.1f} ms "
              f"| {row['store_ms']:.1f} ms | {row['ubl_ms']:.1f} ms | {row['pdf_ms']:.1f} ms | {row['ratio']:.2f} |")


if __name__ == "__main__":
    main()

"""The collection daily run over 100,000 open invoices on PostgreSQL, against a plain SQL scan.

The script creates a scratch PostgreSQL database and its tables. It loads N open, overdue,
managed invoices of 100 freelancers with COPY, their due dates spread over the last 100 days.
Every ladder step whose day has passed is already claimed, as after earlier runs, so about
one invoice in 33 has a step due on the run day.

- baseline: a plain SQL scan that reads the same rows (open, owing, overdue, managed) with
  their customer party, the columns the run reads;
- run: ``run_day`` for the day, which evaluates every invoice (ladder, claims, holds) and
  claims and carries out each due step (claim transaction, check-and-send transaction,
  e-mail job or letter). Hand-off steps are switched off so that no zip is written.

It prints invoices evaluated per second for both and the run's rate over the scan's. It then
runs the same day again, when nothing is due, which measures the evaluation alone, as every
later check of the scheduler that day does. Last, it drops the database.

    uv run python benchmarks/collection.py [--invoices 100000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

RUN_DATE = date(2026, 9, 1)
OWNERS = 100
DAYS_SPREAD = 100


def admin_engine(url: str):
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


def copy_rows(connection, table: str, columns: list[str], rows) -> None:
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(engine, invoices: int) -> int:
    """Load the freelancers, invoices, parties and past claims; returns how many steps are due."""
    from backend.collection.ladder import DEFAULT_LADDER

    now = datetime.now(UTC)
    with engine.begin() as connection:
        copy_rows(connection, "users", ["id", "email", "name", "password_hash", "role", "language", "is_demo", "created_at"],
                  ((owner, f"owner{owner}@bench.example", f"Owner {owner}", "x", "freelancer", "fr", False, now)
                   for owner in range(1, OWNERS + 1)))
        # The default ladder without the hand-off, for every freelancer.
        copy_rows(connection, "collection_ladder_steps", ["owner_id", "debtor_key", "step", "delay_days", "enabled"],
                  ((owner, "", step.step, step.delay_days, step.step != "handoff")
                   for owner in range(1, OWNERS + 1) for step in DEFAULT_LADDER))
        invoice_columns = ["id", "owner_id", "source", "document_type", "number", "supplier_key", "issue_date",
                           "due_date", "currency", "iban", "line_extension_amount", "tax_exclusive_amount",
                           "tax_amount", "tax_inclusive_amount", "payable_amount", "paid_amount", "credited_amount",
                           "status", "debtor_language", "debtor_language_source", "debtor_management", "created_at"]
        due_dates = {n: RUN_DATE - timedelta(days=1 + n % DAYS_SPREAD) for n in range(1, invoices + 1)}
        copy_rows(connection, "invoices", invoice_columns, (
            (n, 1 + n % OWNERS, "issued", "invoice", f"B-{n:07d}", f"KEY{1 + n % OWNERS}", due_dates[n] - timedelta(days=30),
             due_dates[n], "EUR", "BE56363123456788", "1000.00", "1000.00", "210.00", "1210.00", "1210.00", "0.00",
             "0.00", "open", "fr", "freelancer", True, now)
            for n in range(1, invoices + 1)))
        party_columns = ["invoice_id", "role", "name", "enterprise_number", "email", "country"]
        copy_rows(connection, "invoice_parties", party_columns, (
            row for n in range(1, invoices + 1) for row in (
                (n, "supplier", f"Owner {1 + n % OWNERS}", "0123456749", None, "BE"),
                (n, "customer", f"Debtor {n % 5000}", f"04{n % 5000:08d}", f"debtor{n % 5000}@bench.example", "BE"))))
        due = 0
        claims = []
        for n, due_date in due_dates.items():
            enabled = [step for step in DEFAULT_LADDER if step.step != "handoff"]
            for step in enabled:
                day = step.due_on(due_date)
                if day < RUN_DATE:
                    claims.append((n, 1 + n % OWNERS, step.step, day, "sent", now))
                elif day == RUN_DATE:
                    due += 1
                    break
                else:
                    break
        copy_rows(connection, "collection_step_claims", ["invoice_id", "owner_id", "step", "run_date", "status",
                                                         "claimed_at"], claims)
        for table in ("users", "invoices"):
            connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        connection.exec_driver_sql("ANALYZE")
    return due


def scan(engine) -> tuple[int, float]:
    query = sa.text(
        "SELECT i.id, i.owner_id, i.due_date, i.payable_amount - i.paid_amount - i.credited_amount, p.enterprise_number, p.name "
        "FROM invoices i JOIN invoice_parties p ON p.invoice_id = i.id AND p.role = 'customer' "
        "WHERE i.document_type = 'invoice' AND i.status = 'open' AND i.debtor_management "
        "AND i.payable_amount - i.paid_amount - i.credited_amount > 0 AND i.due_date < :day ORDER BY i.id")
    started = time.perf_counter()
    with engine.connect() as connection:
        rows = connection.execute(query, {"day": RUN_DATE}).all()
    return len(rows), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000, help="open invoices to load")
    parser.add_argument("--postgres", default=os.environ.get("IKKI_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="URL of a PostgreSQL server where the script may create a database")
    arguments = parser.parse_args()

    name = f"ikki_bench_{uuid.uuid4().hex[:10]}"
    admin = admin_engine(arguments.postgres)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = arguments.postgres.rsplit("/", 1)[0] + f"/{name}"
    data_dir = Path(tempfile.mkdtemp(prefix="ikki-bench-"))
    os.environ.update(IKKI_ENVIRONMENT="test", IKKI_DATABASE_URL=url, IKKI_DATA_DIR=str(data_dir))

    from backend.collection.daily_run import run_day
    from backend.core import db as core_db

    try:
        core_db.migrate(url)
        engine = core_db.get_engine(url)
        started = time.perf_counter()
        due = load(engine, arguments.invoices)
        print(f"loaded {arguments.invoices} invoices in {time.perf_counter() - started:.1f} s; {due} steps due on {RUN_DATE}")

        rows, scan_s = scan(engine)
        started = time.perf_counter()
        summary = run_day(engine, RUN_DATE, now=datetime(2026, 9, 1, 7, tzinfo=UTC))
        run_s = time.perf_counter() - started
        scan_rate, run_rate = rows / scan_s, summary.evaluated / run_s

        print(f"scan: {rows} rows in {scan_s:.2f} s, {scan_rate:,.0f} rows/s")
        print(f"run:  {summary.evaluated} evaluated, {summary.sent} steps sent {dict(sorted(summary.steps.items()))}, "
              f"{summary.skipped} skipped, in {run_s:.2f} s, {run_rate:,.0f} invoices/s")
        print(f"run / scan: {run_rate / scan_rate:.4f}")

        # The same day again, as the scheduler's next check does: every step is claimed, nothing is due.
        started = time.perf_counter()
        again = run_day(engine, RUN_DATE, now=datetime(2026, 9, 1, 7, 5, tzinfo=UTC))
        again_s = time.perf_counter() - started
        again_rate = again.evaluated / again_s
        print(f"rerun: {again.evaluated} evaluated, {again.sent} sent, in {again_s:.2f} s, {again_rate:,.0f} invoices/s")
        print(f"rerun / scan: {again_rate / scan_rate:.4f}")
    finally:
        core_db.dispose_engines()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()

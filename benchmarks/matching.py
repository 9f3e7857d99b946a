"""Time the top 20 freelancers for a mission among 20,000 profiles on PostgreSQL.

Creates a scratch database on the server of IKKI_TEST_POSTGRES_URL (default: the local
server at 127.0.0.1:5432 as postgres), seeds it with ``backend.marketplace.seed``, and
drops it at the end. It prints the median time of what the matches page runs: the ranking
in SQL, then the reasons in Python for the 20 freelancers shown. It also prints the ratio of
that time to a plain SQL scan of the same profiles, measured in the same run.

    uv run python benchmarks/matching.py [--profiles 20000] [--missions 10] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import select

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.marketplace import matching
from backend.marketplace.models import FreelancerProfile, Mission
from backend.marketplace.seed import generate, write

ADMIN_URL = os.environ.get("IKKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REFERENCE_DATE = date(2026, 3, 2)


def admin_engine() -> sa.Engine:
    return sa.create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


def median_ms(function, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000, help="freelancer profiles to seed")
    parser.add_argument("--missions", type=int, default=10, help="published missions to rank freelancers for")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated data")
    arguments = parser.parse_args()

    name = f"ikki_bench_{uuid.uuid4().hex[:10]}"
    with admin_engine().connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        run(url, arguments)
    finally:
        core_db.dispose_engines()
        with admin_engine().connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, arguments: argparse.Namespace) -> None:
    core_db.migrate(url)
    engine = core_db.get_engine(url)
    started = time.perf_counter()
    data = generate(arguments.seed, profiles=arguments.profiles, missions=max(arguments.missions * 3, 30),
                    reference_date=REFERENCE_DATE, experiences=False)
    with session_scope(engine) as session:
        write(session, data)
    # VACUUM cannot run in a transaction, and ANALYZE statistics written in a rolled-back one
    # are lost: autocommit does both as a production database's autovacuum would.
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    print(f"seeded {arguments.profiles} profiles in {time.perf_counter() - started:.1f} s")

    with session_scope(engine) as session:
        missions = list(session.exec(select(Mission).where(Mission.status == "published").order_by(Mission.id)
                                     .limit(arguments.missions)).all())
        facts = [matching.mission_facts(session, mission) for mission in missions]

        def scan() -> None:
            columns = (FreelancerProfile.id, FreelancerProfile.hourly_rate, FreelancerProfile.available_from,
                       FreelancerProfile.hours_per_week, FreelancerProfile.region)
            rows = session.exec(select(*columns).where(FreelancerProfile.published)).all()
            assert len(rows) > arguments.profiles * 0.9

        scan_ms = median_ms(scan, arguments.runs)
        ranking_ms, page_ms, found = [], [], []
        for mission, mission_facts in zip(missions, facts):
            ranking_ms.append(median_ms(lambda facts=mission_facts: matching.rank_profiles(session, facts),
                                        arguments.runs))
            page_ms.append(median_ms(lambda shown=mission: matching.matches_for_mission(session, shown),
                                     arguments.runs))
            found.append(len(matching.matches_for_mission(session, mission)))

    page = statistics.median(page_ms)
    ranking = statistics.median(ranking_ms)
    print(f"missions: {len(missions)}, freelancers listed per mission: median {statistics.median(found):.0f}, "
          f"runs per measurement: {arguments.runs}")
    print(f"plain SQL scan of the published profiles: {scan_ms:.1f} ms")
    print(f"ranking in SQL (top 20): {ranking:.1f} ms, {ranking / scan_ms:.2f} × the scan")
    print(f"top 20 with reasons (SQL ranking + Python reasons): {page:.1f} ms, {page / scan_ms:.2f} × the scan "
          f"(slowest mission {max(page_ms):.1f} ms)")


if __name__ == "__main__":
    main()

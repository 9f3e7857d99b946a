from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import Session, select

from backend.core import db as core_db
from backend.core.db import session_scope
from backend.notifications import jobs
from backend.notifications.models import Job

RUNS: Counter = Counter()
RUNS_LOCK = threading.Lock()


@jobs.handler("test.count")
def count_run(session: Session, job: Job) -> None:
    with RUNS_LOCK:
        RUNS[job.id] += 1


@jobs.handler("test.fail")
def always_fail(session: Session, job: Job) -> None:
    raise RuntimeError("simulated outage")


@jobs.handler("test.permanent")
def fail_permanently(session: Session, job: Job) -> None:
    raise jobs.PermanentJobError("no address")


@pytest.fixture(autouse=True)
def clear_runs():
    RUNS.clear()


def test_dedupe_key_queues_once(database_url):
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        first = jobs.queue_job(session, "test.count", dedupe_key="letter:1:email")
        second = jobs.queue_job(session, "test.count", dedupe_key="letter:1:email")
    assert first is not None
    assert second is None
    with session_scope(engine) as session:
        assert len(session.exec(select(Job)).all()) == 1


def test_two_workers_run_each_job_once(database_url):
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        for _ in range(40):
            jobs.queue_job(session, "test.count")

    threads = [threading.Thread(target=jobs.run_due_jobs, args=(engine, f"worker-{n}")) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(RUNS) == 40
    assert set(RUNS.values()) == {1}
    with session_scope(engine) as session:
        statuses = {job.status for job in session.exec(select(Job)).all()}
    assert statuses == {"done"}


def test_failed_job_is_retried_later_then_gives_up(database_url):
    engine = core_db.get_engine(database_url)
    with session_scope(engine) as session:
        job_id = jobs.queue_job(session, "test.fail", max_attempts=2).id

    assert jobs.run_due_jobs(engine) == 1
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        assert job.status == "pending"
        assert job.attempts == 1
        assert "simulated outage" in job.last_error

    # Not due again until the retry delay has passed.
    assert jobs.claim_next_job(engine, "w") is None
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        job.run_after = job.created_at
        session.add(job)

    jobs.run_due_jobs(engine)
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        assert job.status == "failed"
        assert job.attempts == 2


def test_permanent_error_fails_at_once(sqlite_url):
    engine = core_db.get_engine(sqlite_url)
    with session_scope(engine) as session:
        job_id = jobs.queue_job(session, "test.permanent").id
    jobs.run_due_jobs(engine)
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
    assert job.status == "failed"
    assert job.attempts == 1


def test_cancel_leaves_running_and_done_jobs(sqlite_url):
    engine = core_db.get_engine(sqlite_url)
    with session_scope(engine) as session:
        pending = jobs.queue_job(session, "test.count", invoice_id=7).id
        other = jobs.queue_job(session, "test.count", invoice_id=8).id
    with session_scope(engine) as session:
        assert jobs.cancel_jobs_for_invoice(session, 7, "invoice paid") == 1
    jobs.run_due_jobs(engine)
    with session_scope(engine) as session:
        assert session.get(Job, pending).status == "cancelled"
        assert session.get(Job, other).status == "done"
    assert pending not in RUNS

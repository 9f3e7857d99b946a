"""The outbox: jobs queued inside a business transaction and run by workers after commit.

Workers claim jobs one at a time. On PostgreSQL the claim is
``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite the claiming transaction starts with
``BEGIN IMMEDIATE``, so two workers never run the same job.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.core.db import is_sqlite, session_scope
from backend.core.time import utcnow
from backend.notifications.models import Job

log = structlog.get_logger(__name__)

# A job still "running" after this long belongs to a worker that died; it is claimed again.
STALE_CLAIM_AFTER = timedelta(minutes=10)
RETRY_BASE_DELAY = timedelta(seconds=30)
RETRY_MAX_DELAY = timedelta(hours=2)

Handler = Callable[[Session, Job], None]
handlers: dict[str, Handler] = {}


class PermanentJobError(Exception):
    """A job failure that retrying cannot fix (missing address, unknown invoice)."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        handlers[kind] = function
        return function

    return register


def queue_job(session: Session, kind: str, *, invoice_id: int | None = None,
              payload: dict[str, Any] | None = None, dedupe_key: str | None = None,
              run_after: datetime | None = None, max_attempts: int = 5) -> Job | None:
    """Add a job to the outbox in the caller's transaction; returns None if the key exists."""
    if dedupe_key is not None:
        existing = session.exec(select(Job).where(Job.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
    job = Job(kind=kind, invoice_id=invoice_id, payload=payload or {}, dedupe_key=dedupe_key,
              run_after=run_after or utcnow(), max_attempts=max_attempts)
    session.add(job)
    session.flush()
    log.info("job.queued", job_id=job.id, kind=kind, invoice_id=invoice_id)
    return job


def cancel_jobs_for_invoice(session: Session, invoice_id: int, reason: str) -> int:
    """Cancel every job of an invoice that has not started yet."""
    jobs = session.exec(select(Job).where(Job.invoice_id == invoice_id, Job.status == "pending")).all()
    for job in jobs:
        job.status = "cancelled"
        job.last_error = reason
        job.finished_at = utcnow()
        session.add(job)
    if jobs:
        log.info("job.cancelled", invoice_id=invoice_id, count=len(jobs), reason=reason)
    return len(jobs)


def jobs_for_invoice(session: Session, invoice_id: int) -> list[Job]:
    return list(session.exec(select(Job).where(Job.invoice_id == invoice_id).order_by(Job.id)).all())


def claim_next_job(engine: Engine, worker_id: str, now: datetime | None = None) -> int | None:
    """Mark the next due job as running for this worker and return its id."""
    now = now or utcnow()
    due = sa.or_(
        sa.and_(Job.status == "pending", Job.run_after <= now),
        sa.and_(Job.status == "running", Job.claimed_at < now - STALE_CLAIM_AFTER),
    )
    with session_scope(engine, write_lock=True) as session:
        query = select(Job).where(due).order_by(Job.run_after, Job.id).limit(1)
        if not is_sqlite(engine):
            query = query.with_for_update(skip_locked=True)
        job = session.exec(query).first()
        if job is None:
            return None
        job.status = "running"
        job.claimed_by = worker_id
        job.claimed_at = now
        job.attempts += 1
        session.add(job)
        return job.id


def run_job(engine: Engine, job_id: int) -> str:
    """Run one claimed job in its own transaction and record the outcome."""
    error: BaseException | None = None
    permanent = False
    try:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            run = handlers.get(job.kind)
            if run is None:
                raise PermanentJobError(f"no handler for job kind {job.kind!r}")
            run(session, job)
            job.status = "done"
            job.finished_at = utcnow()
            job.last_error = None
            session.add(job)
    except PermanentJobError as failure:
        error, permanent = failure, True
    except Exception as failure:  # noqa: BLE001 - any failure of a handler is recorded and retried
        error = failure
    if error is None:
        log.info("job.done", job_id=job_id)
        return "done"

    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        job.last_error = f"{type(error).__name__}: {error}"[:2000]
        if permanent or job.attempts >= job.max_attempts:
            job.status = "failed"
            job.finished_at = utcnow()
        else:
            delay = min(RETRY_BASE_DELAY * (2 ** (job.attempts - 1)), RETRY_MAX_DELAY)
            job.status = "pending"
            job.run_after = utcnow() + delay
        session.add(job)
        status = job.status
        log.warning("job.failed", job_id=job_id, kind=job.kind, attempts=job.attempts,
                    status=status, error=job.last_error)
    return status


def run_due_jobs(engine: Engine, worker_id: str | None = None, limit: int = 100) -> int:
    """Run due jobs until none is left or ``limit`` ran; returns how many ran."""
    import backend.notifications.handlers  # noqa: F401  (registers the job handlers)

    worker_id = worker_id or default_worker_id()
    count = 0
    while count < limit:
        job_id = claim_next_job(engine, worker_id)
        if job_id is None:
            break
        run_job(engine, job_id)
        count += 1
    return count


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Runs due jobs in a background thread until stopped."""

    def __init__(self, engine: Engine, poll_interval_s: float = 0.5) -> None:
        self.engine = engine
        self.poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ikki-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("worker.started")

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        log.info("worker.stopped")

    def _loop(self) -> None:
        worker_id = default_worker_id()
        while not self._stop.is_set():
            try:
                run_due_jobs(self.engine, worker_id)
            except Exception:  # noqa: BLE001 - the worker must outlive a database hiccup
                log.exception("worker.loop_failed")
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()

"""The daily run's scheduler: a background thread of ``ikki up`` that runs every missed day."""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.engine import Engine

from backend.collection.daily_run import run_due_days

log = structlog.get_logger(__name__)


class CollectionScheduler:
    """Checks every ``interval_s`` seconds; each check runs today (Brussels) and any missed day.

    Several processes may run it at once: step claims keep each step to one send.
    """

    def __init__(self, engine: Engine, interval_s: float) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ikki-collection", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("collection.scheduler_started", interval_s=self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        log.info("collection.scheduler_stopped")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_due_days(self.engine)
            except Exception:  # noqa: BLE001 - the scheduler must outlive a failed run; the next check retries
                log.exception("collection.run_failed")
            self._stop.wait(self.interval_s)

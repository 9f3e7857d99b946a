"""In-process counters of ingestion outcomes and broker denials, by reason.

Each process counts from its own start. The stored RejectedMessage rows are the durable
record.
"""

from __future__ import annotations

import threading
from collections import Counter


class ReasonCounter:
    """A thread-safe counter keyed by reason, read as a snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def increment(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def __getitem__(self, reason: str) -> int:
        with self._lock:
            return self._counts[reason]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


# Outcomes of ingestion: "stored", "duplicate", "rejected" and "deferred".
ingestion_outcomes = ReasonCounter()
# Rejected messages by reason, such as "bad_signature" or "replayed_sequence".
rejection_counts = ReasonCounter()
# Connections and topic operations that the embedded broker denied, by reason.
broker_denial_counts = ReasonCounter()

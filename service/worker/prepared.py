"""Results a preparer computed for claimed events, waiting for their handlers.

A preparer (see `registry.Preparer`) does slow work — a PDF render — in a read-only
snapshot before the worker's write transaction; the handler then only stores the result.
The handler takes the result by event id; one whose handler never ran (a lost claim) is
dropped after a while so that nothing piles up.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")

PREPARED_TTL_SECONDS = 600.0


class PreparedResults(Generic[T]):
    """Per-event results, each taken once; thread-safe."""

    def __init__(self, ttl_seconds: float = PREPARED_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._results: OrderedDict[str, tuple[float, T]] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    def put(self, event_id: str, result: T) -> None:
        now = time.monotonic()
        with self._lock:
            while self._results:  # expired entries are the oldest: drop from the front
                oldest_at, _ = next(iter(self._results.values()))
                if now - oldest_at <= self._ttl:
                    break
                self._results.popitem(last=False)
            self._results.pop(event_id, None)  # a re-put goes to the back
            self._results[event_id] = (now, result)

    def take(self, event_id: str) -> T | None:
        """The result prepared for `event_id` (removed), or None."""
        with self._lock:
            found = self._results.pop(event_id, None)
        return found[1] if found is not None else None

"""A bounded, thread-safe memo for pure functions' results (least recently stored dropped).

Structuring and theme matching are pure functions of their input for one process's models,
so the worker computes them a batch ahead (outside the write transaction, or in its helper
process) and the write phase finds the results here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Results by input, at most `size` of them; the oldest stored goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._results: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._results.get(key)

    def found(self, keys: Iterable[K]) -> dict[K, V]:
        """The results held for any of `keys`."""
        with self._lock:
            return {key: self._results[key] for key in keys if key in self._results}

    def put_all(self, results: Iterable[tuple[K, V]]) -> None:
        with self._lock:
            for key, value in results:
                self._results.pop(key, None)  # stored again: now the newest
                self._results[key] = value
            while len(self._results) > self._size:
                self._results.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._results.clear()

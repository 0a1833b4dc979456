"""The worker's helper process: prepares the next claim on another core while the worker
writes the current one.

Structuring a record (normalize, fold, extract, classify, theme features) is CPU-bound
Python and about half of what a record costs; in one process it cannot overlap with the
writes. The helper is forked from the worker once its models are loaded (they are shared
copy-on-write, nothing is loaded twice), opens its own read-only connections, and runs
the portable preparers (`registry.Portable`) for the event ids it is sent, sending back
their picklable results. The worker installs them and its handlers find them; anything the
helper did not foresee (a record another event changed in between) is computed by the
handler as before, so the helper only ever saves work: losing it loses no event.

Answers are read off the pipe by a thread of the worker as soon as the helper sends them:
an answer is larger than the pipe's buffer, and a helper blocked sending one could not
start on the next request while the worker is busy writing.

Forking is only safe from a process with no other threads (a forked child gets copies of
the other threads' locks, possibly held); `start` refuses otherwise and the worker prepares
in its own process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database
from service.inbox.models import InboxEvent
from service.worker.context import running_with
from service.worker.registry import portable_for

log = logging.getLogger("relay.worker")

# (task name, event ids in claim order) per task of the claim.
Request = list[tuple[str, list[str]]]
# (task name, what its portable preparer computed) per task it computed.
Results = list[tuple[str, Any]]


@dataclass(frozen=True)
class Prepared:
    """The helper's answer to one request: results, and the event ids they cover."""

    results: Results
    event_ids: frozenset[str]


@dataclass
class Balance:
    """How many of a claim's events the helper prepares; the worker prepares the rest
    itself, before it writes, so that both are done at about the same time.

    With h the helper's seconds per event, p the worker's for preparing one itself and w
    its seconds per event written, the helper taking k of n events finishes with the
    worker when h*k = w*n + p*(n - k), so k/n = (w + p) / (h + p): all of them while
    writing is the slower part, fewer when preparing is (the worker would otherwise wait).
    Each figure is a moving average of the rounds measured.
    """

    SMOOTHING = 0.3

    helper: float | None = None
    own: float | None = None
    write: float | None = None

    def helper_share(self, count: int) -> int:
        """How many of `count` events to send to the helper."""
        if count == 0:
            return 0
        if self.helper is None or self.write is None:
            return (count + 1) // 2  # nothing measured yet: share alike
        own = self.own if self.own is not None else self.helper
        share = min(1.0, (self.write + own) / (self.helper + own))
        return max(1, round(share * count))

    def helper_took(self, seconds: float, events: int) -> None:
        self.helper = self._averaged(self.helper, seconds, events)

    def prepared_here(self, seconds: float, events: int) -> None:
        self.own = self._averaged(self.own, seconds, events)

    def wrote(self, seconds: float, events: int) -> None:
        self.write = self._averaged(self.write, seconds, events)

    def _averaged(self, before: float | None, seconds: float, events: int) -> float | None:
        if events == 0:
            return before
        now = seconds / events
        return now if before is None else before + self.SMOOTHING * (now - before)


class PrepareHelper:
    """A forked process computing portable preparations, one request at a time, in order."""

    def __init__(self, connection: Connection, process: Any, timeout_seconds: float) -> None:
        self._connection = connection
        self._process = process
        self._timeout = timeout_seconds
        self._sent: deque[Request] = deque()  # requests not answered yet, oldest first
        self.balance = Balance()
        self.alive = True
        self._answers: queue.Queue[bytes | None] = queue.Queue()
        # Started with the first request, not here: `relay worker --concurrency N` forks
        # all its helpers first, and `start` refuses to fork once another thread runs.
        self._reader = threading.Thread(target=self._read, name="relay-prepare-reader", daemon=True)

    def _read(self) -> None:
        # Raw bytes only (the read releases the interpreter lock); unpickled by `receive`.
        try:
            while True:
                self._answers.put(self._connection.recv_bytes())
        except (EOFError, OSError):
            self._answers.put(None)

    @classmethod
    def start(cls, settings: Settings) -> PrepareHelper | None:
        """Fork the helper (None when this process has other threads: see the docstring)."""
        if threading.active_count() > 1:
            log.warning("not starting the prepare helper: this process runs other threads")
            return None
        return cls.fork(settings)

    @classmethod
    def fork(cls, settings: Settings) -> PrepareHelper:
        """Fork the helper now (tests, whose other threads are idle loopback servers)."""
        context = multiprocessing.get_context("fork")
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_serve, args=(child_end, settings), name="relay-prepare", daemon=True
        )
        process.start()
        child_end.close()
        # A preparation that takes longer than a third of the lease is not worth waiting
        # for: the claims would expire before they are written.
        return cls(parent_end, process, settings.worker_lease_seconds / 3)

    @property
    def pid(self) -> int | None:
        """The helper's process id (None once it is gone)."""
        pid: int | None = self._process.pid if self._process.is_alive() else None
        return pid

    @property
    def busy(self) -> bool:
        """Whether a request was sent whose results have not been received yet."""
        return bool(self._sent)

    def submit(self, request: Request) -> None:
        if not self.alive:
            return
        if self._reader.ident is None:  # the first request: start reading answers
            self._reader.start()
        try:
            self._connection.send(request)
            self._sent.append(request)
        except (OSError, ValueError):
            self._lost("could not send to the prepare helper")

    def receive(self) -> Prepared:
        """The answer to the oldest request sent (nothing if the helper is gone)."""
        if not self.alive or not self._sent:
            return Prepared([], frozenset())
        try:
            answer = self._answers.get(timeout=self._timeout)
        except queue.Empty:
            self._lost(f"the prepare helper gave no answer in {self._timeout:g} s")
            return Prepared([], frozenset())
        if answer is None:
            self._lost("the prepare helper is gone")
            return Prepared([], frozenset())
        # Our own forked child over a private pipe: what `Connection.recv` would unpickle.
        results, seconds = pickle.loads(answer)  # noqa: S301
        request = dict(self._sent.popleft())
        self.balance.helper_took(seconds, sum(len(ids) for ids in request.values()))
        # A task whose preparer failed is not in the results: the worker prepares it.
        covered = frozenset(i for task_name, _ in results for i in request.get(task_name, ()))
        return Prepared(results, covered)

    def _lost(self, why: str) -> None:
        # From now on the worker prepares in its own process, as without a helper.
        log.error(why + "; preparing in the worker's process from now on")
        self.close()

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError, ValueError):  # it died meanwhile
                self._connection.send(None)
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        if self._reader.ident is not None:  # started
            self._reader.join(timeout=5)
        self._connection.close()
        self.alive = False
        self._sent.clear()


def _serve(connection: Connection, settings: Settings) -> None:
    # Ctrl-C reaches the whole process group: the worker stops its helper itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    database = Database(settings.database_url)  # never the worker's inherited connections
    try:
        while (request := _next(connection)) is not None:
            started = time.perf_counter()
            results = compute(database, settings, request)
            connection.send((results, time.perf_counter() - started))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the worker is gone: nobody to answer
    finally:
        database.dispose()


def _next(connection: Connection) -> Request | None:
    try:
        request: Request | None = connection.recv()
    except EOFError:  # the worker is gone
        return None
    return request


def compute(database: Database, settings: Settings, request: Request) -> Results:
    """Run the portable preparers of `request` in one read snapshot."""
    results: Results = []
    with database.read_session() as session, running_with(settings):
        for task_name, event_ids in request:
            portable = portable_for(task_name)
            if portable is None:
                continue
            try:
                results.append(
                    (task_name, portable.compute(session, events_in(session, event_ids)))
                )
            except Exception:  # only a cache: the handlers do the real work
                log.warning("prepare failed", exc_info=True, extra={"task": task_name})
    return results


def events_in(session: Session, event_ids: Sequence[str]) -> list[InboxEvent]:
    """The events of `event_ids` in that order (the claim's: a ticket's events in turn)."""
    found = {
        e.id: e for e in session.scalars(select(InboxEvent).where(InboxEvent.id.in_(event_ids)))
    }
    return [found[event_id] for event_id in event_ids if event_id in found]

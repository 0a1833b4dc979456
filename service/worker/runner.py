"""The worker: claims due inbox events, runs their handler, records the outcome.

Exactly-once effects: a handler's writes and the event's "handled" mark commit in one
transaction, and that mark is only written while this worker still holds the claim.
A worker killed mid-event leaves the claim to expire (the lease); another retakes it.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database, chunked, utcnow
from service.inbox.models import EventStatus, InboxEvent
from service.metrics import EVENT_LAG, EVENTS_PROCESSED
from service.worker.context import running_with
from service.worker.helper import Balance, PrepareHelper, Request, Results, events_in
from service.worker.registry import (
    PermanentFailure,
    RetryAfter,
    handler_for,
    loader_for,
    portable_for,
    preparer_for,
    schedules,
)

T = TypeVar("T")

# Claimed events are prepared, and loaded into a write transaction, this many at a time:
# enough for batched classification and lookups to pay off, few enough that a step stays
# short when a burst of webhooks ends a transaction after a couple of events.
SLICE = 100
# With a helper, this many claims are taken ahead of the one being written, each sent to
# the helper at once: it always has the next one queued, so it never waits for the writer
# to claim, and the writer finds its answer ready instead of waiting for the helper.
AHEAD = 2

log = logging.getLogger("relay.worker")

# The cyclic garbage collector's thresholds for a worker process. Handling a record
# allocates many container objects (ORM states, rows, dicts) that mostly die young but not
# at once; at the interpreter's default (a collection per 700 net allocations) the
# collector ran ~180 times per thousand records, older generations included, ~7 % of the
# writer's time. At 50 000 it runs a few times per thousand, and the garbage it waits
# for is bounded by that count (a few tens of MB).
GC_THRESHOLDS = (50_000, 10, 10)


def tune_collector() -> tuple[int, int, int]:
    """Set the worker's collector thresholds; the previous ones (to restore them)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    return before


@dataclass(frozen=True)
class Claim:
    id: str
    task: str
    attempts: int


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Exponential: base, 2*base, 4*base ... capped."""
    delay = settings.worker_backoff_base_seconds * (2 ** max(attempts - 1, 0))
    return float(min(delay, settings.worker_backoff_max_seconds))


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What makes an event due: pending and its time has come, or claimed by a worker
    whose lease ran out. One query each (see `claim_due`)."""
    return (
        (InboxEvent.status == EventStatus.PENDING) & (InboxEvent.next_attempt_at <= now),
        (InboxEvent.status == EventStatus.PROCESSING) & (InboxEvent.lease_until < now),
    )


def claim_due(session: Session, *, worker: str, limit: int, lease_seconds: float) -> list[Claim]:
    """Take up to `limit` due events (or expired claims) for `worker`, oldest due first."""
    now = utcnow()
    # One query per kind of due event, each read in the order of the (status,
    # next_attempt_at, id) index and stopped at `limit`: with both conditions in one OR,
    # every due row was fetched and sorted to take the first `limit`, a scan of the whole
    # backlog per claim.
    rows = sorted(
        (row for condition in _due(now) for row in _first_due(session, condition, limit)),
        key=lambda row: (row.next_attempt_at, row.id),
    )[:limit]
    if not rows:
        return []
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_([r.id for r in rows]))
        .values(
            status=EventStatus.PROCESSING,
            lease_until=now + timedelta(seconds=lease_seconds),
            locked_by=worker,
            attempts=InboxEvent.attempts + 1,
        )
    )
    return [Claim(id=r.id, task=r.task, attempts=r.attempts + 1) for r in rows]


def _first_due(
    session: Session, condition: ColumnElement[bool], limit: int
) -> Sequence[Row[str, str, int, datetime]]:
    query = (
        select(InboxEvent.id, InboxEvent.task, InboxEvent.attempts, InboxEvent.next_attempt_at)
        .where(condition)
        .order_by(InboxEvent.next_attempt_at, InboxEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several worker processes: each skips rows another is claiming.
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).all()


class _HandlerFailed(Exception):
    """A handler failed mid-transaction: redo the transaction recording this failure."""

    def __init__(self, claim_id: str, error: Exception) -> None:
        super().__init__(claim_id)
        self.claim_id, self.error = claim_id, error


class Worker:
    """Processes inbox events; `run_once` is one claim-and-handle round."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        name: str | None = None,
        yield_to: Callable[[], bool] | None = None,
        helper: PrepareHelper | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.name = name or worker_name()
        self._pacer = Pacer(yield_to, share=settings.worker_busy_share)
        self._helper = helper
        self._ahead: deque[list[Claim]] = deque()  # claimed, being prepared by the helper

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Claim a batch and handle it; the number of events claimed.

        The batch is prepared outside the write transaction (see registry.Preparer),
        then handled in transactions of up to `worker_commit_batch` events, one
        savepoint each, so one commit (one fsync) serves many events. When `stop` is set
        mid-batch, the event in hand is finished, committed, and the rest handed back.
        With a helper process, the next `AHEAD` batches are claimed before this one is
        handled and the helper prepares them meanwhile (see `worker.helper`).
        """
        claims = self._ahead.popleft() if self._ahead else self._claim()
        by_helper = self._offload(claims) if claims else frozenset()
        own = [c for c in claims if c.id not in by_helper]
        started = time.perf_counter()
        for part in chunked(own, SLICE):
            with self._pacer.paced():  # per slice: a big claim stays in short steps
                self._prepare(part)
        prepared = time.perf_counter()
        remaining = claims
        while remaining:
            with self._pacer.paced():
                remaining = self._handle_chunk(remaining, stop)
        if self._helper is not None:
            balance = self._helper.balance
            balance.prepared_here(prepared - started, sum(1 for c in own if portable_for(c.task)))
            balance.wrote(time.perf_counter() - prepared, len(claims))
        return len(claims)

    def close(self) -> None:
        """Hand back the claims taken ahead (if any) and stop the helper."""
        if self._ahead:
            with self.database.session(durable=False) as session:
                self._release(session, [c for claims in self._ahead for c in claims])
        self._ahead.clear()
        if self._helper is not None:
            self._helper.close()

    def _claim(self) -> list[Claim]:
        with self.database.session(durable=False) as session:
            return claim_due(
                session,
                worker=self.name,
                limit=self.settings.worker_batch_size,
                lease_seconds=self.settings.worker_lease_seconds,
            )

    def _offload(self, claims: list[Claim]) -> frozenset[str]:
        """Install the helper's preparation of `claims` and keep `AHEAD` claims queued for
        it; the ids of the events it prepared (none without a working helper)."""
        helper = self._helper
        if helper is None or not helper.alive:
            return frozenset()
        if not helper.busy:  # the first claim of a run: nothing was sent ahead
            helper.submit(_helper_request(claims, helper.balance))
        prepared = helper.receive()
        while helper.alive and len(self._ahead) < AHEAD:
            ahead = self._claim()
            if not ahead:
                break
            self._ahead.append(ahead)
            helper.submit(_helper_request(ahead, helper.balance))
        _install(prepared.results)
        return prepared.event_ids

    def run_schedules(self, now: datetime | None = None) -> None:
        """Enqueue the jobs due by the clock (the weekly digest...), one transaction each;
        a failing schedule is logged and tried again next time."""
        for name, due in schedules().items():
            try:
                with running_with(self.settings), self.database.session(durable=False) as session:
                    due(session, now or utcnow())
            except Exception:
                log.exception("schedule failed", extra={"schedule": name})

    def process(self, claim: Claim) -> None:
        """Handle one claim in its own transaction."""
        self._handle_chunk([claim], None)

    def _prepare(self, claims: Sequence[Claim]) -> None:
        by_task = _by_task(claims, task=lambda c: c.task)
        with self.database.read_session() as session, running_with(self.settings):
            for task_name, task_claims in by_task.items():
                ids = [c.id for c in task_claims]
                prepare = preparer_for(task_name)
                if prepare is None:
                    continue
                try:
                    prepare(session, events_in(session, ids))
                except Exception:  # only a cache: the handler does the real work
                    log.warning("prepare failed", exc_info=True, extra={"task": task_name})

    def _handle_chunk(self, claims: list[Claim], stop: threading.Event | None) -> list[Claim]:
        """Handle claims in one transaction; return those left for the next one.

        No savepoints and one flush at commit. If a handler fails, the transaction is
        rolled back whole and redone with that event's failure recorded instead of
        running it again, so the others still commit and no handler runs twice for
        the same failure.
        """
        failures: dict[str, Exception] = {}
        while True:
            try:
                return self._run_chunk(claims, stop, failures)
            except _HandlerFailed as failed:
                failures[failed.claim_id] = failed.error

    def _run_chunk(
        self, claims: list[Claim], stop: threading.Event | None, failures: dict[str, Exception]
    ) -> list[Claim]:
        """The transaction ends after `worker_commit_batch` events if another writer is
        waiting (a webhook's commit), otherwise it runs on: one commit for the lot.
        When stopped, the rest is handed back and nothing is left."""
        with self.database.session(durable=False) as session, session.no_autoflush:
            events: dict[str, InboxEvent] = {}
            for index, claim in enumerate(claims):
                if stop is not None and stop.is_set():
                    self._release(session, claims[index:])
                    return []
                if index >= self.settings.worker_commit_batch and self.database.writers_waiting():
                    return claims[index:]
                if index % SLICE == 0:  # the next slice's events and what they touch
                    events.update(self._load_slice(session, claims[index : index + SLICE]))
                self._handle_one(session, claim, events.get(claim.id), failures.get(claim.id))
        return []

    def _load_slice(self, session: Session, claims: list[Claim]) -> dict[str, InboxEvent]:
        """The claims' events, and what their tasks' loaders read for them."""
        events = events_in(session, [c.id for c in claims])
        self._run_loaders(session, events)
        return {event.id: event for event in events}

    def _run_loaders(self, session: Session, events: list[InboxEvent]) -> None:
        by_task = _by_task([e for e in events if self._still_mine(e)], task=lambda e: e.task)
        with running_with(self.settings):
            for task_name, batch in by_task.items():
                load = loader_for(task_name)
                if load is not None:
                    load(session, batch)

    def _release(self, session: Session, claims: list[Claim]) -> None:
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_([c.id for c in claims]), InboxEvent.locked_by == self.name)
            .values(
                status=EventStatus.PENDING,
                lease_until=None,
                locked_by=None,
                attempts=InboxEvent.attempts - 1,
            )
        )

    def _handle_one(
        self, session: Session, claim: Claim, event: InboxEvent | None, failure: Exception | None
    ) -> None:
        if event is None or not self._still_mine(event):
            EVENTS_PROCESSED.labels(claim.task, "lost_claim").inc()
            return
        if failure is not None:
            self._record_failure(event, claim, failure)
            return
        try:
            result = self._run_handler(session, event)
        except Exception as exc:
            raise _HandlerFailed(claim.id, exc) from exc
        event.status, event.result = EventStatus.HANDLED, result[:200]
        event.handled_at, event.lease_until, event.last_error = utcnow(), None, None
        EVENT_LAG.observe((event.handled_at - event.received_at).total_seconds())
        EVENTS_PROCESSED.labels(claim.task, "handled").inc()

    def _record_failure(self, event: InboxEvent, claim: Claim, exc: Exception) -> None:
        if isinstance(exc, PermanentFailure):
            self._fail(event, claim, str(exc), permanent=True)
            return
        if isinstance(exc, RetryAfter):
            # The vendor said when: no sooner (its rate limit), and no later than needed.
            self._fail(event, claim, f"RetryAfter: {exc}", permanent=False, delay=exc.seconds)
            return
        log.error("event failed", exc_info=exc, extra={"event_id": claim.id, "task": claim.task})
        self._fail(event, claim, f"{type(exc).__name__}: {exc}", permanent=False)

    def _run_handler(self, session: Session, event: InboxEvent) -> str:
        handler = handler_for(event.task)
        if handler is None:
            raise PermanentFailure(f"no handler for task {event.task!r}")
        with running_with(self.settings):
            return handler(session, event)

    def _still_mine(self, event: InboxEvent) -> bool:
        return event.status == EventStatus.PROCESSING and event.locked_by == self.name

    def _fail(
        self,
        event: InboxEvent,
        claim: Claim,
        error: str,
        *,
        permanent: bool,
        delay: float | None = None,
    ) -> None:
        # The handler's writes were rolled back with its savepoint; only the outcome stays.
        parked = permanent or claim.attempts >= self.settings.worker_max_attempts
        event.status = EventStatus.QUARANTINED if parked else EventStatus.PENDING
        event.last_error = error[:4000]
        wait = backoff_seconds(self.settings, claim.attempts) if delay is None else delay
        event.next_attempt_at = utcnow() + timedelta(seconds=wait)
        event.lease_until = None
        EVENTS_PROCESSED.labels(claim.task, "quarantined" if parked else "retry").inc()


def _helper_request(claims: Sequence[Claim], balance: Balance) -> Request:
    """The helper's share of the claims with a portable preparer, by task."""
    portable = [c for c in claims if portable_for(c.task)]
    share = portable[: balance.helper_share(len(portable))]
    return [
        (name, [c.id for c in group])
        for name, group in _by_task(share, task=lambda c: c.task).items()
    ]


def _install(results: Results) -> None:
    """Keep the helper's results for the handlers."""
    for task_name, result in results:
        portable = portable_for(task_name)
        if portable is not None:
            portable.install(result)


def _by_task(items: Sequence[T], *, task: Callable[[T], str]) -> dict[str, list[T]]:
    """Claims or events grouped by task name, in their order (hooks run per task)."""
    grouped: dict[str, list[T]] = {}
    for item in items:
        grouped.setdefault(task(item), []).append(item)
    return grouped


class Pacer:
    """Keeps an in-process worker to a share of the interpreter while the API is busy.

    The worker thread and the request handlers share one interpreter lock. During a
    burst of webhooks, acknowledging them (stored durably) matters more than processing
    them at once: after each step the worker sleeps so that its steps take at most
    `share` of the time while `busy()` says requests are arriving. The inbox holds
    what the burst leaves, and the worker catches up at full speed once it is over.
    """

    MAX_PAUSE_SECONDS = 0.5

    def __init__(self, busy: Callable[[], bool] | None, *, share: float) -> None:
        self._busy = busy
        self._share = share

    @contextmanager
    def paced(self) -> Iterator[None]:
        started = time.monotonic()
        yield
        if self._busy is None or self._share >= 1.0 or not self._busy():
            return
        elapsed = time.monotonic() - started
        time.sleep(min(elapsed * (1.0 / self._share - 1.0), self.MAX_PAUSE_SECONDS))


class WorkerThread:
    """Runs a Worker in a background thread until `stop`, finishing the event in hand."""

    def __init__(
        self, database: Database, settings: Settings, *, yield_to: Callable[[], bool] | None = None
    ) -> None:
        self._worker = Worker(database, settings, yield_to=yield_to)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="relay-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        run_until_stopped(self._worker, self._stop)


def run_until_stopped(worker: Worker, stop: threading.Event) -> None:
    """Poll for work until `stop` is set; a failing round is logged and retried. The
    schedules run at start and then every `worker_schedule_seconds`."""
    next_schedules = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_schedules:
            worker.run_schedules()
            next_schedules = time.monotonic() + worker.settings.worker_schedule_seconds
        try:
            busy = worker.run_once(stop)
        except Exception:
            log.exception("worker round failed; retrying")
            busy = 0
        if not busy:
            stop.wait(worker.settings.worker_poll_seconds)
    worker.close()

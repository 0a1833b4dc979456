"""Group commit for the inbox: many concurrent deliveries, one durable commit.

Every 202 waits for a real commit (with synchronous=FULL on SQLite, an fsync). Rather
than one transaction per request, a single writer thread takes every delivery queued
while the previous commit was running and stores them together, so throughput grows
with concurrency while each answer still comes only after its event is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import Database, new_id, utcnow
from service.inbox.models import EventStatus, InboxEvent

log = logging.getLogger("relay.inbox")

MAX_BATCH = 256


@dataclass(frozen=True)
class NewEvent:
    """A verified, redacted delivery waiting to be stored."""

    source: str
    delivery_key: str
    task: str
    payload: str
    headers: dict[str, str] = field(default_factory=dict)
    hints: dict[str, Any] = field(default_factory=dict)
    status: EventStatus = EventStatus.PENDING
    last_error: str | None = None


@dataclass(frozen=True)
class Stored:
    id: str
    duplicate: bool


# A queued delivery: the event, and the future its request awaits on its event loop.
_Job = tuple[NewEvent, "asyncio.Future[Stored]"]
_Outcome = tuple["asyncio.Future[Stored]", "Stored | BaseException"]


class InboxWriter:
    """Stores deliveries in batches on a dedicated thread; `store` awaits the commit."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._last_queueing = float("-inf")
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    async def store(self, event: NewEvent) -> Stored:
        """Queue `event` and wait until it is committed (or the commit failed)."""
        waiter: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._queue.put((event, waiter))
        return await waiter

    def queueing(self, window_seconds: float = 0.25) -> bool:
        """Whether, within the last `window_seconds`, deliveries arrived faster than they
        could be committed one by one (a commit took several that had queued behind it):
        the sign of a burst, when the in-process worker steps back (see `Pacer`)."""
        return time.monotonic() - self._last_queueing < window_seconds

    def close(self) -> None:
        """Store what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._drain([first])
            if len(batch) > 1:
                self._last_queueing = time.monotonic()
            self._commit(batch)
            if stop:
                return

    def _drain(self, batch: list[_Job]) -> tuple[list[_Job], bool]:
        while len(batch) < MAX_BATCH:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _commit(self, batch: list[_Job]) -> None:
        try:
            results = self._store(batch)
        except IntegrityError:
            # Another process stored one of these keys between our read and insert
            # (several API processes on Postgres): fall back to one at a time.
            results = [self._store_one(job) for job in batch]
        except Exception as exc:  # storage down: every waiter answers 503
            log.error("inbox commit failed", extra={"error": str(exc).splitlines()[0]})
            results = [exc] * len(batch)
        _answer([(waiter, result) for (_, waiter), result in zip(batch, results, strict=True)])

    def _store(self, batch: list[_Job]) -> list[Stored | BaseException]:
        with self._database.session() as session:
            return store_events(session, events=[event for event, _ in batch])

    def _store_one(self, job: _Job) -> Stored | BaseException:
        try:
            return self._store([job])[0]
        except Exception as exc:
            return exc


def _answer(outcomes: list[_Outcome]) -> None:
    """Hand each waiter its outcome: one wake-up per event loop for the whole batch, not
    one per delivery (each is a write to the loop's self-pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for waiter, result in outcomes:
        by_loop.setdefault(waiter.get_loop(), []).append((waiter, result))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # the loop closed (shutdown): nobody waits any more
            log.warning("inbox answers dropped: event loop closed", extra={"n": len(settled)})


def _settle(outcomes: list[_Outcome]) -> None:
    for waiter, result in outcomes:
        if waiter.done():  # the request was cancelled (client gone); the event is stored
            continue
        if isinstance(result, BaseException):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)


def store_events(session: Session, *, events: list[NewEvent]) -> list[Stored | BaseException]:
    """Insert new deliveries; a delivery already stored (or repeated in `events`) is a duplicate."""
    existing = _stored_ids(session, events)
    results: list[Stored | BaseException] = []
    rows: list[dict[str, Any]] = []
    for event in events:
        key = (event.source, event.delivery_key)
        if key in existing:
            results.append(Stored(id=existing[key], duplicate=True))
            continue
        rows.append(_row(event))
        existing[key] = rows[-1]["id"]
        results.append(Stored(id=rows[-1]["id"], duplicate=False))
    if rows:
        # One executemany through Core: the ORM's per-object bookkeeping would cost
        # more than the insert itself on this hot path.
        session.connection().execute(insert(InboxEvent), rows)
    return results


def _stored_ids(session: Session, events: list[NewEvent]) -> dict[tuple[str, str], str]:
    """(source, delivery_key) → id of the deliveries among `events` already stored."""
    keys_by_source: dict[str, set[str]] = {}
    for event in events:
        keys_by_source.setdefault(event.source, set()).add(event.delivery_key)
    found: dict[tuple[str, str], str] = {}
    for source, keys in keys_by_source.items():
        # One source per query: `source = ? AND delivery_key IN (…)` is an index search on
        # both databases, where SQLite answers a row-value IN with a full table scan.
        query = select(InboxEvent.delivery_key, InboxEvent.id).where(
            InboxEvent.source == source, InboxEvent.delivery_key.in_(keys)
        )
        found.update(((source, key), event_id) for key, event_id in session.execute(query))
    return found


def _row(event: NewEvent) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id("ibx"),
        "source": event.source,
        "delivery_key": event.delivery_key,
        "task": event.task,
        "payload": event.payload,
        "headers": event.headers,
        "hints": event.hints,
        "status": event.status,
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
        "last_error": event.last_error,
    }

"""The worker's contract: retries with backoff, quarantine, leases, graceful stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database, utcnow
from service.inbox.models import InboxEvent
from service.inbox.writer import NewEvent, store_events
from service.worker import prepared, runner
from service.worker.registry import HANDLERS, PREPARERS, PermanentFailure, load_task_modules
from service.worker.runner import Worker, WorkerThread, backoff_seconds, claim_due


@pytest.fixture
def handlers() -> Iterator[dict[str, object]]:
    # Registered first: restoring a registry saved before the domains' modules were
    # imported would leave it empty for every later test.
    load_task_modules()
    saved = dict(HANDLERS)
    yield HANDLERS  # type: ignore[misc]
    HANDLERS.clear()
    HANDLERS.update(saved)


def enqueue(database: Database, task: str, count: int = 1) -> list[str]:
    with database.session() as session:
        stored = store_events(
            session,
            events=[
                NewEvent(source="test", delivery_key=f"{task}-{n}", task=task, payload="{}")
                for n in range(count)
            ],
        )
    return [s.id for s in stored]  # type: ignore[union-attr]


def event(database: Database, event_id: str) -> InboxEvent:
    with database.session() as session:
        found = session.get(InboxEvent, event_id)
        assert found is not None
        return found


def make_due(database: Database) -> None:
    with database.session() as session:
        session.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_a_claim_takes_the_oldest_due_of_pending_events_and_expired_leases(db: Database) -> None:
    """Pending events whose time has come and claims whose lease ran out, together in
    (next_attempt_at, id) order, up to the limit; events not due, or leased, are left."""
    ids = enqueue(db, "test.order", count=6)
    now = utcnow()
    due_at = {  # minutes before now; None: not due yet
        ids[0]: 5,
        ids[1]: 1,
        ids[2]: 4,
        ids[3]: 2,
        ids[4]: None,
        ids[5]: 3,
    }
    with db.session() as session:
        for event_id, minutes in due_at.items():
            when = now + timedelta(minutes=1 if minutes is None else -minutes)
            session.execute(
                update(InboxEvent).where(InboxEvent.id == event_id).values(next_attempt_at=when)
            )
        # ids[2]: claimed by a worker that died (lease over); ids[5]: claimed, lease running.
        for event_id, lease in ((ids[2], -1), (ids[5], 1)):
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id == event_id)
                .values(status="processing", lease_until=now + timedelta(minutes=lease))
            )

    with db.session() as session:
        first = claim_due(session, worker="w", limit=3, lease_seconds=60)
    with db.session() as session:
        rest = claim_due(session, worker="w", limit=3, lease_seconds=60)

    assert [c.id for c in first] == [ids[0], ids[2], ids[3]]
    assert [c.id for c in rest] == [ids[1]]
    assert {c.id: c.attempts for c in first} == {ids[0]: 1, ids[2]: 1, ids[3]: 1}
    assert event(db, ids[4]).status == "pending" and event(db, ids[5]).locked_by is None


def test_backoff_doubles_and_is_capped(settings: Settings) -> None:
    tuned = settings.model_copy(
        update={"worker_backoff_base_seconds": 2.0, "worker_backoff_max_seconds": 10.0}
    )
    assert [backoff_seconds(tuned, n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]


def test_failures_retry_then_park_in_quarantine(
    db: Database, settings: Settings, handlers: dict[str, object]
) -> None:
    calls: list[str] = []

    def always_fails(_session: Session, row: InboxEvent) -> str:
        calls.append(row.id)
        raise RuntimeError("vendor down")

    handlers["test.fails"] = always_fails
    tuned = settings.model_copy(update={"worker_max_attempts": 3})
    [event_id] = enqueue(db, "test.fails")
    worker = Worker(db, tuned)
    for expected_status in ("pending", "pending", "quarantined"):
        make_due(db)
        assert worker.run_once() == 1
        assert event(db, event_id).status == expected_status
    parked = event(db, event_id)
    assert parked.attempts == 3 and "vendor down" in (parked.last_error or "")
    make_due(db)
    assert worker.run_once() == 0 and len(calls) == 3


def test_preparers_read_and_never_write(
    db: Database, settings: Settings, handlers: dict[str, object]
) -> None:
    """A preparer that changes what it loaded (it is only a cache) writes nothing: a write
    from the read snapshot would need SQLite's write lock, held by the API meanwhile."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    def changes_what_it_read(_session: Session, events: Sequence[InboxEvent]) -> None:
        for row in events:
            row.hints = {"prepared": True}

    for task in ("test.first", "test.second"):
        handlers[task] = lambda _session, _row: "done"
        enqueue(db, task)
    PREPARERS["test.first"] = changes_what_it_read
    PREPARERS["test.second"] = lambda _session, _events: None  # its query would autoflush
    sa_event.listen(Engine, "before_cursor_execute", record)
    try:
        assert Worker(db, settings).run_once() == 2
    finally:
        sa_event.remove(Engine, "before_cursor_execute", record)
        PREPARERS.pop("test.first")
        PREPARERS.pop("test.second")
    assert not [s for s in statements if s.startswith("UPDATE") and "hints" in s]
    with db.session() as session:
        rows = session.scalars(select(InboxEvent)).all()
        assert {(r.status, r.result) for r in rows} == {("handled", "done")}
        assert all(r.hints == {} for r in rows)


def test_a_big_claim_is_prepared_in_slices_each_paced(
    db: Database,
    settings: Settings,
    handlers: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The claim may be large (one write transaction for all of it when nobody waits), but
    an in-process worker's paced steps stay as short as a slice during a burst."""
    monkeypatch.setattr(runner, "SLICE", 3)
    sizes: list[int] = []
    steps: list[str] = []
    handlers["test.sliced"] = lambda _session, _row: "done"
    PREPARERS["test.sliced"] = lambda _session, events: sizes.append(len(events))
    enqueue(db, "test.sliced", count=7)
    worker = Worker(db, settings.model_copy(update={"worker_batch_size": 50}))

    @contextmanager
    def paced() -> Iterator[None]:
        steps.append("step")
        yield

    monkeypatch.setattr(worker._pacer, "paced", paced)
    try:
        assert worker.run_once() == 7
    finally:
        PREPARERS.pop("test.sliced")
    assert sizes == [3, 3, 1]
    assert len(steps) == 3 + 1  # each slice, then the one write transaction
    with db.session() as session:
        assert {r.status for r in session.scalars(select(InboxEvent))} == {"handled"}


def test_prepared_results_expire_oldest_first_and_are_taken_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(prepared.time, "monotonic", lambda: clock[0])
    results: prepared.PreparedResults[str] = prepared.PreparedResults(ttl_seconds=10)
    results.put("a", "first")
    clock[0] = 104.0
    results.put("b", "second")
    clock[0] = 108.0
    results.put("a", "first again")  # put again: fresh again, behind b
    clock[0] = 115.0
    results.put("c", "third")  # b (11 s old) expires; a (7 s) is kept though b was older
    assert results.take("b") is None
    assert results.take("a") == "first again"
    assert results.take("c") == "third" and results.take("c") is None


def test_retry_waits_for_its_backoff(
    db: Database, settings: Settings, handlers: dict[str, object]
) -> None:
    def fails(_session: Session, _row: InboxEvent) -> str:
        raise RuntimeError("later")

    handlers["test.later"] = fails
    [event_id] = enqueue(db, "test.later")
    worker = Worker(db, settings.model_copy(update={"worker_backoff_base_seconds": 60.0}))
    assert worker.run_once() == 1
    assert worker.run_once() == 0  # not due for a minute
    assert event(db, event_id).next_attempt_at > utcnow() + timedelta(seconds=50)


def test_permanent_failure_is_quarantined_at_once(
    db: Database, settings: Settings, handlers: dict[str, object]
) -> None:
    def unparseable(_session: Session, _row: InboxEvent) -> str:
        raise PermanentFailure("cannot parse")

    handlers["test.bad"] = unparseable
    [event_id] = enqueue(db, "test.bad")
    Worker(db, settings).run_once()
    parked = event(db, event_id)
    assert parked.status == "quarantined" and parked.attempts == 1
    assert parked.last_error == "cannot parse"


def test_expired_claim_is_retaken_and_the_old_worker_cannot_finish_it(
    db: Database, settings: Settings, handlers: dict[str, object]
) -> None:
    handlers["test.ok"] = lambda _s, _r: "done"
    [event_id] = enqueue(db, "test.ok")
    slow, fast = Worker(db, settings, name="slow"), Worker(db, settings, name="fast")

    with db.session() as session:
        [claim] = claim_due(session, worker="slow", limit=1, lease_seconds=0.01)
    time.sleep(0.05)
    assert fast.run_once() == 1  # the lease ran out: retaken
    slow.process(claim)  # the first worker wakes up late
    finished = event(db, event_id)
    assert finished.status == "handled" and finished.attempts == 2
    assert finished.locked_by == "fast"


def test_graceful_stop_finishes_the_event_in_hand_and_hands_back_the_rest(
    db: Database, settings: Settings, handlers: dict[str, object]
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_session: Session, _row: InboxEvent) -> str:
        started.set()
        release.wait(10)
        return "done"

    handlers["test.slow"] = slow
    ids = enqueue(db, "test.slow", count=3)
    thread = WorkerThread(db, settings)
    thread.start()
    assert started.wait(10)
    stopper = threading.Thread(target=thread.stop)
    stopper.start()
    time.sleep(0.1)
    release.set()
    stopper.join(10)
    statuses = sorted(event(db, i).status for i in ids)
    assert statuses == ["handled", "pending", "pending"]
    assert all(event(db, i).locked_by is None for i in ids if event(db, i).status == "pending")

"""The worker's helper process prepares the next claim while the worker writes this one:
the records come out exactly as without it, and losing it loses nothing."""

from __future__ import annotations

import multiprocessing
import signal
import tempfile
import threading
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service import demo, migrate
from service.config import Settings
from service.db import Database
from service.feedback import service as feedback_service
from service.feedback.models import Feedback
from service.inbox import tasks
from service.inbox.models import EventStatus, InboxEvent
from service.inbox.writer import store_events
from service.structuring import pipeline
from service.themes import matching
from service.worker import helper as helper_module
from service.worker.helper import Balance, PrepareHelper
from service.worker.runner import AHEAD, Worker

TICKETS = 40


@pytest.fixture
def helper(settings: Settings) -> Iterator[PrepareHelper]:
    started = PrepareHelper.fork(settings)
    yield started
    started.close()


def store_corpus(database: Database, count: int = TICKETS) -> int:
    """The first `count` corpus tickets as Zendesk deliveries (created, then the reply)."""
    events = [
        demo.inbox_event(body)
        for ticket in islice(demo.corpus_tickets(), count)
        for body in demo.ticket_events(ticket)
    ]
    with database.session() as session:
        store_events(session, events=events)
    return len(events)


def with_status(database: Database, status: EventStatus) -> list[InboxEvent]:
    with database.session() as session:
        query = select(InboxEvent).where(InboxEvent.status == status)
        return list(session.scalars(query))


def drain(worker: Worker) -> int:
    total = 0
    while handled := worker.run_once():
        total += handled
    return total


def outcome(database: Database) -> dict[str, Any]:
    """Each record's labels and codes, and which records share a theme."""
    with database.session() as session:
        records = list(session.scalars(select(Feedback).order_by(Feedback.external_id)))
        labels = {
            r.external_id: (r.product_area, r.payment_method, r.category, r.severity, r.error_codes)
            for r in records
        }
        groups: dict[str | None, list[str]] = {}
        for r in records:
            groups.setdefault(r.theme_id, []).append(r.external_id)
    return {"labels": labels, "themes": sorted(sorted(g) for g in groups.values())}


def without_helper(settings: Settings) -> dict[str, Any]:
    """The same tickets through a worker without a helper, in a database of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'baseline.db'}"
        migrate.upgrade(url)
        database = Database(url)
        store_corpus(database)
        drain(Worker(database, settings.model_copy(update={"database_url": url})))
        found = outcome(database)
        database.dispose()
    return found


def test_records_come_out_as_without_a_helper_and_the_writer_computes_none_of_them(
    db: Database, settings: Settings, helper: PrepareHelper, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = without_helper(settings)
    computed_here: list[str] = []

    def structure_here(items: Any) -> Any:
        computed_here.extend(i.subject for i in items)
        return original_structure(items)

    def match_here(item: matching.MatchInput) -> matching.Matching:
        computed_here.append(item.subject)
        return original_match(item)

    def redact_here(text: str) -> Any:
        computed_here.append(text)
        return original_redact(text)

    # Patched in the worker's process only: the helper was forked before.
    original_structure, original_match = pipeline._compute, matching._compute
    original_redact = feedback_service.redact_text
    monkeypatch.setattr(pipeline, "_compute", structure_here)
    monkeypatch.setattr(matching, "_compute", match_here)
    monkeypatch.setattr(feedback_service, "redact_text", redact_here)
    settings = settings.model_copy(update={"worker_batch_size": 16})  # several rounds ahead
    events = store_corpus(db)

    assert drain(Worker(db, settings, helper=helper)) == events
    assert computed_here == []  # every text was redacted, structured, featurized there
    assert outcome(db) == expected
    assert helper.alive


def test_forking_a_helper_starts_no_thread_so_the_next_one_can_fork_too(
    settings: Settings,
) -> None:
    # `relay worker --concurrency N` forks N helpers, and `start` refuses once a thread runs.
    before = threading.active_count()
    first = PrepareHelper.fork(settings)
    try:
        assert threading.active_count() == before
        first.submit([])  # its first request starts the thread reading its answers
        assert first.receive().results == []
        assert threading.active_count() == before + 1
    finally:
        first.close()
    assert threading.active_count() == before  # the reader ends with the helper


def test_the_claims_taken_ahead_are_handed_back_when_the_worker_closes(
    db: Database, settings: Settings, helper: PrepareHelper
) -> None:
    events = store_corpus(db, count=12)
    worker = Worker(db, settings.model_copy(update={"worker_batch_size": 5}), helper=helper)

    assert worker.run_once() == 5
    held = with_status(db, EventStatus.PROCESSING)  # the next claims, being prepared
    assert len(held) == AHEAD * 5 and {e.locked_by for e in held} == {worker.name}
    worker.close()

    pending = with_status(db, EventStatus.PENDING)
    assert len(with_status(db, EventStatus.HANDLED)) == 5
    assert len(pending) == events - 5
    assert {e.attempts for e in pending} == {0}  # handed back as if never claimed
    assert not helper.alive


def test_a_helper_that_dies_costs_time_not_events(
    db: Database, settings: Settings, helper: PrepareHelper
) -> None:
    events = store_corpus(db, count=10)
    worker = Worker(db, settings.model_copy(update={"worker_batch_size": 4}), helper=helper)
    assert worker.run_once() == 4
    helper._process.kill()
    helper._process.join()

    assert 4 + drain(worker) == events
    assert not helper.alive
    assert len(with_status(db, EventStatus.HANDLED)) == events


def test_no_helper_is_forked_beside_other_threads(settings: Settings) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert PrepareHelper.start(settings) is None
    finally:
        release.set()
        other.join()


def test_the_helper_takes_the_share_that_lets_both_finish_together() -> None:
    balance = Balance()
    assert balance.helper_share(10) == 5  # nothing measured: alike
    balance.helper_took(seconds=2.0, events=1000)  # 2 ms an event
    balance.prepared_here(seconds=2.0, events=1000)  # 2 ms here too
    balance.wrote(seconds=1.0, events=1000)  # writing: 1 ms
    # helper 2k = 1n + 2(n - k)  ->  k = 3n / 4
    assert balance.helper_share(400) == 300
    balance.wrote(seconds=40.0, events=1000)  # writing became the slow part
    assert balance.helper_share(400) == 400
    assert balance.helper_share(0) == 0


def test_events_the_helper_was_not_given_are_prepared_by_the_worker(
    db: Database, settings: Settings, helper: PrepareHelper, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = without_helper(settings)
    monkeypatch.setattr(Balance, "helper_share", lambda self, count: count // 4)
    prepared_here: list[str] = []
    original = matching.prepare

    def prepare_here(items: Any) -> Any:
        prepared_here.extend(i.subject for i in items)
        return original(items)

    monkeypatch.setattr(matching, "prepare", prepare_here)
    settings = settings.model_copy(update={"worker_batch_size": 16})
    events = store_corpus(db)

    assert drain(Worker(db, settings, helper=helper)) == events
    assert events // 2 <= len(prepared_here) < events  # three quarters here, the rest not
    assert outcome(db) == expected


def test_a_helper_whose_worker_is_gone_stops_without_a_traceback(settings: Settings) -> None:
    worker_end, helper_end = multiprocessing.Pipe()
    worker_end.send([])  # a request, then the worker is gone before the answer
    worker_end.close()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        helper_module._serve(helper_end, settings)  # returns: nobody to answer
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])


def test_preparing_a_batch_adds_no_record_to_its_session_and_the_writer_creates_them(
    db: Database, settings: Settings
) -> None:
    # A preview folds each ticket into a record only to read it: adding the new records to
    # the (rolled back) read session was a tenth of the preparation's cost.
    corpus = list(islice(demo.corpus_tickets(), 5))
    store_corpus(db, count=len(corpus))
    with db.read_session() as session:
        events = list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        prepared = tasks.compute_ingest(session, events)
        assert len(prepared.structured) == len(events)
        assert not session.new  # neither the new records nor their new merchants
    drain(Worker(db, settings))
    with db.session() as session:
        records = list(session.scalars(select(Feedback)))
        assert {r.subject for r in records} == {t["subject"] for t in corpus}
        assert all(r.merchant is not None and r.merchant.id == r.merchant_id for r in records)

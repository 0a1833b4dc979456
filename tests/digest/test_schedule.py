"""The worker builds the Product digest by itself: once per period, stored, served."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import select

from service.config import Settings
from service.db import Database
from service.digest import service as digest
from service.digest.models import Digest
from service.digest.tasks import BUILD_TASK, period_end
from service.inbox.models import InboxEvent
from service.worker.runner import Worker, WorkerThread

WEDNESDAY = datetime(2026, 6, 3, 10, 30, tzinfo=UTC)


def digest_jobs(db: Database) -> list[InboxEvent]:
    with db.session() as session:
        jobs = session.scalars(select(InboxEvent).where(InboxEvent.task == BUILD_TASK)).all()
        session.expunge_all()
        return list(jobs)


def test_period_end_is_the_start_of_this_week_or_month() -> None:
    assert period_end("week", date(2026, 6, 3)) == date(2026, 6, 1)  # a Monday
    assert period_end("week", date(2026, 6, 1)) == date(2026, 6, 1)
    assert period_end("week", date(2026, 6, 7)) == date(2026, 6, 1)
    assert period_end("month", date(2026, 6, 15)) == date(2026, 6, 1)


def test_the_week_just_ended_is_built_once(db: Database, settings: Settings) -> None:
    worker = Worker(db, settings.model_copy(update={"digest_schedule": "week"}))
    worker.run_schedules(now=WEDNESDAY)
    worker.run_schedules(now=WEDNESDAY.replace(hour=23))  # every minute, all week: one job
    [job] = digest_jobs(db)
    assert job.delivery_key == "digest:week:2026-06-01"

    assert worker.run_once() == 1
    with db.session() as session:
        stored = digest.latest(session)
        assert (stored.period, stored.created_by) == ("week", "schedule")
        assert stored.range_end == datetime(2026, 6, 1, tzinfo=UTC)
        assert digest.pdf_file(settings, stored).read_bytes().startswith(b"%PDF")
    [job] = digest_jobs(db)
    assert job.status == "handled"

    worker.run_schedules(now=WEDNESDAY)  # the same week again: nothing new
    assert len(digest_jobs(db)) == 1
    worker.run_schedules(now=datetime(2026, 6, 8, 0, 1, tzinfo=UTC))  # next Monday
    assert [j.delivery_key for j in digest_jobs(db)][-1] == "digest:week:2026-06-08"


def test_a_replayed_job_does_not_store_a_second_digest(db: Database, settings: Settings) -> None:
    worker = Worker(db, settings.model_copy(update={"digest_schedule": "month"}))
    worker.run_schedules(now=datetime(2026, 6, 15, tzinfo=UTC))
    worker.run_once()
    with db.session() as session:
        job = session.scalars(select(InboxEvent).where(InboxEvent.task == BUILD_TASK)).one()
        assert job.delivery_key == "digest:month:2026-06-01"
        job.status, job.next_attempt_at = "pending", datetime(2026, 1, 1, tzinfo=UTC)
    worker.run_once()
    with db.session() as session:
        assert len(session.scalars(select(Digest)).all()) == 1
        job = session.scalars(select(InboxEvent).where(InboxEvent.task == BUILD_TASK)).one()
        assert "already stored" in (job.result or "")


def test_off_enqueues_nothing(db: Database, settings: Settings) -> None:
    Worker(db, settings).run_schedules(now=WEDNESDAY)  # the test settings say "off"
    assert digest_jobs(db) == []


def test_a_running_worker_builds_the_digest_on_its_own(db: Database, settings: Settings) -> None:
    thread = WorkerThread(db, settings.model_copy(update={"digest_schedule": "week"}))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.session() as session:
                if session.scalar(select(Digest.id)) is not None:
                    break
            time.sleep(0.1)
    finally:
        thread.stop()
    with db.session() as session:
        stored = digest.latest(session)
        assert stored.created_by == "schedule" and stored.range_end.weekday() == 0

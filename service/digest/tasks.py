"""The scheduled Product digest (registered with service.worker.registry).

Each Monday (or on the 1st, with `RELAY_DIGEST_SCHEDULE=month`) the worker enqueues the
digest of the period just ended, under a key naming that period: one job however many
workers look, and none again once it is built. The render (WeasyPrint, a second or two)
happens in the preparer, outside the write transaction that webhook commits wait for on
SQLite; the handler only stores it (or renders itself when nothing was prepared).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.digest import service as digest_service
from service.digest.models import Digest
from service.inbox.models import InboxEvent
from service.worker import jobs, registry
from service.worker.context import worker_settings
from service.worker.prepared import PreparedResults

BUILD_TASK = "digest.build"
ACTOR = "schedule"

_prepared: PreparedResults[Digest] = PreparedResults()


def period_end(period: str, today: date) -> date:
    """The first day after the newest whole period: this Monday, or the 1st of this month."""
    if period == "week":
        return today - timedelta(days=today.weekday())
    return today.replace(day=1)


@registry.schedule("digest")
def enqueue_due_digest(session: Session, now: datetime) -> None:
    """Enqueue the digest of the period that ended last (once per period)."""
    period = worker_settings().digest_schedule
    if period == "off":
        return
    end = period_end(period, now.date())
    jobs.enqueue(
        session,
        task=BUILD_TASK,
        key=f"digest:{period}:{end.isoformat()}",
        payload={"period": period, "end": end.isoformat()},
    )


def _wanted(event: InboxEvent) -> tuple[str, date]:
    payload = jobs.payload_of(event)
    return str(payload["period"]), date.fromisoformat(str(payload["end"]))


def _built(session: Session, period: str, end: date) -> bool:
    """Whether the scheduled digest of this period is stored already (a redelivery)."""
    stop = digest_service.period_range(period, end=end)[1]
    query = select(Digest.id).where(
        Digest.period == period, Digest.range_end == stop, Digest.created_by == ACTOR
    )
    return session.scalar(query.limit(1)) is not None


def _render(session: Session, period: str, end: date) -> Digest:
    return digest_service.render(
        session, settings=worker_settings(), period=period, actor=ACTOR, end=end
    )


@registry.preparer(BUILD_TASK)
def prepare_digests(session: Session, events: Sequence[InboxEvent]) -> None:
    """Render outside the write transaction (see the module docstring)."""
    for event in events:
        period, end = _wanted(event)
        if not _built(session, period, end):
            _prepared.put(event.id, _render(session, period, end))


@registry.task(BUILD_TASK)
def build_digest(session: Session, event: InboxEvent) -> str:
    """Store the period's digest (the newest is served at /digests/latest)."""
    period, end = _wanted(event)
    prepared = _prepared.take(event.id)
    if _built(session, period, end):
        return f"digest of the {period} to {end.isoformat()} already stored"
    digest = digest_service.store(session, digest=prepared or _render(session, period, end))
    return f"digest {digest.id} ({digest.period} to {end.isoformat()}) stored"

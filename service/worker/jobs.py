"""Internal jobs (the outbox): work Relay gives itself, stored in the same table as inbound
events so the one worker retries, backs off and quarantines them the same way.

A job is enqueued in the caller's transaction, so it exists exactly when the change that
asked for it commits. Its key makes enqueueing idempotent: the same key is one job.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import new_id
from service.inbox.models import EventStatus, InboxEvent

JOB_SOURCE = "relay"


def enqueue(
    session: Session, *, task: str, key: str, payload: dict[str, Any] | None = None
) -> InboxEvent:
    """Add the job `key` for handler `task` (or return the existing job with that key)."""
    existing = find(session, key=key)
    if existing is not None:
        return existing
    job = InboxEvent(
        id=new_id("job"),
        source=JOB_SOURCE,
        delivery_key=key[:200],
        task=task,
        payload=json.dumps(payload or {}, separators=(",", ":"), sort_keys=True),
        status=EventStatus.PENDING,
    )
    try:
        # A savepoint: a concurrent enqueue of the same key must not undo the caller's work.
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        found = find(session, key=key)
        if found is None:
            raise
        return found
    return job


def find(session: Session, *, key: str) -> InboxEvent | None:
    """The job stored under `key`, if any."""
    query = select(InboxEvent).where(
        InboxEvent.source == JOB_SOURCE, InboxEvent.delivery_key == key[:200]
    )
    return session.scalars(query).first()


def payload_of(job: InboxEvent) -> dict[str, Any]:
    """A job's arguments."""
    data: dict[str, Any] = json.loads(job.payload)
    return data

"""Inbox queries and operator actions: list events, replay parked or handled ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.contracts import WebhookSource
from service.db import utcnow
from service.errors import InvalidRequest, NotFound
from service.inbox.models import EventStatus, InboxEvent
from service.inbox.writer import NewEvent
from service.structuring.redaction import redact_body

# Headers worth keeping with the event (delivery ids, retry counts); never auth headers.
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry",
    "x-atlassian-webhook-flow",
    "x-zendesk-account-id",
    "x-zendesk-webhook-id",
    "x-zendesk-webhook-invocation-id",
    "x-zendesk-webhook-signature-timestamp",
)


def received_event(vendor: WebhookSource, body: bytes, headers: Mapping[str, str]) -> NewEvent:
    """A verified delivery as it is stored: redacted, keyed, with what redaction would erase."""
    # The delivery key is taken from the raw body, before redaction changes it.
    delivery_key = vendor.delivery_key(body, headers)
    redacted = redact_body(body)
    return NewEvent(
        source=vendor.name,
        delivery_key=delivery_key,
        task=f"ingest.{vendor.name}",
        payload=redacted.text,
        headers={k: headers[k] for k in KEPT_HEADERS if k in headers},
        hints={"key_modes": sorted(redacted.key_modes), "redactions": redacted.counts},
        # Authentic but not JSON: kept, and parked for a person straight away.
        status=EventStatus.PENDING if redacted.is_json else EventStatus.QUARANTINED,
        last_error=None if redacted.is_json else "body is not valid JSON",
    )


class EventNotFound(NotFound):
    code = "event_not_found"


def list_events(
    session: Session, *, status: str | None = None, source: str | None = None, limit: int = 100
) -> list[InboxEvent]:
    """Newest first, optionally by status and source."""
    query = select(InboxEvent).order_by(InboxEvent.received_at.desc(), InboxEvent.id).limit(limit)
    if status is not None:
        query = query.where(InboxEvent.status == status)
    if source is not None:
        query = query.where(InboxEvent.source == source)
    return list(session.scalars(query))


def get_event(session: Session, *, event_id: str) -> InboxEvent:
    event = session.get(InboxEvent, event_id)
    if event is None:
        raise EventNotFound(f"no event {event_id!r}")
    return event


def replay(session: Session, *, ids: Sequence[str] = (), status: str | None = None) -> list[str]:
    """Put events back in the queue (attempts reset); returns the ids replayed."""
    if not ids and status is None:
        raise InvalidRequest("name event ids or a status to replay")
    if status is not None and status not in (EventStatus.QUARANTINED, EventStatus.HANDLED):
        raise InvalidRequest(
            "only quarantined or handled events can be replayed", details={"field": "status"}
        )
    query = select(InboxEvent.id).where(InboxEvent.status != EventStatus.PROCESSING)
    query = query.where(InboxEvent.id.in_(ids)) if ids else query.where(InboxEvent.status == status)
    chosen = list(session.scalars(query))
    if ids and len(chosen) != len(set(ids)):
        missing = sorted(set(ids) - set(chosen))
        raise EventNotFound(f"no replayable event(s): {', '.join(missing)}", details=missing)
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_(chosen))
        .values(
            status=EventStatus.PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            lease_until=None,
            locked_by=None,
            last_error=None,
        )
    )
    return chosen

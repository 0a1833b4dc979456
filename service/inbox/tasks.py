"""Worker handlers for inbound webhook events: normalize, then fold into the feedback record."""

from __future__ import annotations

from sqlalchemy.orm import Session

from integrations.contracts import UnparseablePayload
from integrations.registry import SOURCES
from service.feedback import service as feedback_service
from service.inbox.models import InboxEvent
from service.worker.registry import PermanentFailure, task


def ingest(session: Session, event: InboxEvent) -> str:
    """Normalize the stored (redacted) body and apply it to its feedback record."""
    vendor = SOURCES[event.source]
    try:
        ticket = vendor.normalize(event.payload.encode(), event.headers)
    except UnparseablePayload as exc:
        raise PermanentFailure(f"unparseable {event.source} payload: {exc}") from exc
    if ticket is None:
        return "ignored: not a ticket event"
    record = feedback_service.apply_ticket(
        session,
        ticket=ticket,
        tiebreak=event.delivery_key,
        key_modes=event.hints.get("key_modes", ()),
    )
    return f"feedback {record.id} {ticket.event_type}"


for _source in ("zendesk", "jira", "intercom", "freshdesk"):
    task(f"ingest.{_source}")(ingest)

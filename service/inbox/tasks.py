"""Worker handlers for inbound webhook events: normalize, then fold into the feedback record."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from integrations.contracts import NormalizedTicket, UnparseablePayload
from integrations.registry import SOURCES
from service.escalation import inbound as escalation_inbound
from service.escalation import service as escalation_service
from service.feedback import service as feedback_service
from service.inbox.models import InboxEvent
from service.structuring import pipeline
from service.themes import service as themes_service
from service.worker.context import worker_settings
from service.worker.registry import PermanentFailure, preparer, task


def _ticket(event: InboxEvent) -> NormalizedTicket | None:
    try:
        return SOURCES[event.source].normalize(event.payload.encode(), event.headers)
    except UnparseablePayload as exc:
        raise PermanentFailure(f"unparseable {event.source} payload: {exc}") from exc


def prepare_ingest(session: Session, events: Sequence[InboxEvent]) -> None:
    """Classify the batch's merged texts together, before the write transaction."""
    inputs = []
    for event in events:
        try:
            ticket = _ticket(event)
        except PermanentFailure:
            continue  # the handler reports it
        if ticket is not None:
            inputs.append(
                feedback_service.structure_input(
                    session,
                    ticket=ticket,
                    tiebreak=event.delivery_key,
                    key_modes=event.hints.get("key_modes", ()),
                )
            )
    pipeline.structure_many(inputs)


def ingest(session: Session, event: InboxEvent) -> str:
    """Normalize the stored (redacted) body and apply it to its feedback record."""
    ticket = _ticket(event)
    if ticket is None:
        return "ignored: not a ticket event"
    version = feedback_service.event_version(ticket.occurred_at, event.delivery_key)
    if escalation_inbound.is_relay_issue(ticket):
        # Relay's own Jira issue: its news moves the theme; it is not another merchant report.
        return escalation_inbound.apply(
            session, ticket=ticket, version=version, settings=worker_settings()
        )
    record = feedback_service.apply_ticket(
        session,
        ticket=ticket,
        tiebreak=event.delivery_key,
        key_modes=event.hints.get("key_modes", ()),
    )
    session.flush()  # the theme membership row refers to the record
    theme = themes_service.attach(session, record=record)
    settings = worker_settings()
    if ticket.jira is not None:  # an issue Engineering filed may name a theme or a ticket
        escalation_inbound.apply(session, ticket=ticket, version=version, settings=settings)
    escalation_service.after_attach(session, record=record, theme=theme, settings=settings)
    return f"feedback {record.id} {ticket.event_type}"


for _source in ("zendesk", "jira", "intercom", "freshdesk"):
    task(f"ingest.{_source}")(ingest)
    preparer(f"ingest.{_source}")(prepare_ingest)

"""Worker handlers for inbound webhook events: normalize, then fold into the feedback record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from integrations.contracts import NormalizedTicket, UnparseablePayload
from integrations.registry import SOURCES
from service.db import session_cache
from service.escalation import inbound as escalation_inbound
from service.escalation import service as escalation_service
from service.feedback import service as feedback_service
from service.inbox.models import InboxEvent
from service.structuring import pipeline
from service.themes import matching
from service.themes import service as themes_service
from service.worker.context import worker_settings
from service.worker.prepared import PreparedResults
from service.worker.registry import PermanentFailure, loader, portable_preparer, task

# Normalized by the preparer, taken by the loader of the write transaction (parsing a
# payload is a fair share of an event's cost; it need not be paid twice).
_NORMALIZED: PreparedResults[NormalizedTicket | None] = PreparedResults()


def _normalize(event: InboxEvent) -> NormalizedTicket | None:
    try:
        return SOURCES[event.source].normalize(event.payload.encode(), event.headers)
    except UnparseablePayload as exc:
        raise PermanentFailure(f"unparseable {event.source} payload: {exc}") from exc


def _ticket(session: Session, event: InboxEvent) -> NormalizedTicket | None:
    tickets = session_cache(session, "tickets")
    if event.id not in tickets:
        tickets[event.id] = _normalize(event)
    ticket: NormalizedTicket | None = tickets[event.id]
    return ticket


def _tickets(session: Session, events: Sequence[InboxEvent]) -> list[NormalizedTicket]:
    """The batch's tickets; an unparseable one is left for its handler to report."""
    found = []
    for event in events:
        try:
            ticket = _ticket(session, event)
        except PermanentFailure:
            continue
        if ticket is not None:
            found.append(ticket)
    return found


@dataclass(frozen=True)
class PreparedIngest:
    """What preparing a batch computed: normalized tickets by event id, and the
    structuring and theme matching their records will ask for. Picklable: it may be
    computed in the worker's helper process."""

    tickets: dict[str, NormalizedTicket | None]
    structured: list[tuple[pipeline.StructureInput, pipeline.Structured]]
    matchings: list[tuple[matching.MatchInput, matching.Matching]]
    # The texts the fold redacted (mostly the tickets' own strings: pickled once).
    redactions: list[tuple[str, str]]


def compute_ingest(session: Session, events: Sequence[InboxEvent]) -> PreparedIngest:
    """Normalize, fold (in this read snapshot, rolled back), classify the batch's texts
    together, and compute the records' theme features, before the write transaction."""
    tickets = _tickets(session, events)
    feedback_service.preload(session, tickets, lock=False)
    normalized = session_cache(session, "tickets")
    previews = [
        feedback_service.preview(
            session,
            ticket=ticket,
            tiebreak=event.delivery_key,
            key_modes=event.hints.get("key_modes", ()),
        )
        for event in events
        if (ticket := normalized.get(event.id)) is not None
    ]
    inputs = [p.input for p in previews]
    results = pipeline.structure_many(inputs)
    foreseen = [matching.MatchInput.foreseen(p, r) for p, r in zip(previews, results, strict=True)]
    return PreparedIngest(
        tickets={event.id: normalized.get(event.id) for event in events},
        structured=list(zip(inputs, results, strict=True)),
        matchings=matching.prepare(foreseen),
        redactions=[pair for p in previews for pair in p.redactions],
    )


def install_ingest(prepared: PreparedIngest) -> None:
    """Keep what `compute_ingest` found (here or in the helper) for the write phase."""
    for event_id, ticket in prepared.tickets.items():
        _NORMALIZED.put(event_id, ticket)
    pipeline.remember(prepared.structured)
    matching.remember(prepared.matchings)
    feedback_service.remember_redactions(prepared.redactions)


def load_ingest(session: Session, events: Sequence[InboxEvent]) -> None:
    """Load the records, merchants and theme memberships the batch will touch."""
    tickets = session_cache(session, "tickets")
    for event in events:
        prepared = _NORMALIZED.take(event.id)
        if prepared is not None:
            tickets[event.id] = prepared
    tickets_of_batch = _tickets(session, events)
    feedback_service.preload(session, tickets_of_batch)
    records = session_cache(session, "feedback").values()
    themes_service.preload(
        session,
        feedback_ids=[r.id for r in records if r is not None],
        merchant_ids=[t.merchant.id for t in tickets_of_batch if t.merchant is not None],
    )


def ingest(session: Session, event: InboxEvent) -> str:
    """Normalize the stored (redacted) body and apply it to its feedback record."""
    ticket = _ticket(session, event)
    if ticket is None:
        return "ignored: not a ticket event"
    if escalation_inbound.is_relay_issue(ticket):
        # Relay's own Jira issue: its news moves the theme; it is not another merchant report.
        return escalation_inbound.apply(
            session, ticket=ticket, version=_version(ticket, event), settings=worker_settings()
        )
    record = feedback_service.apply_ticket(
        session,
        ticket=ticket,
        tiebreak=event.delivery_key,
        key_modes=event.hints.get("key_modes", ()),
    )
    theme = themes_service.attach(session, record=record)
    settings = worker_settings()
    if ticket.jira is not None:  # an issue Engineering filed may name a theme or a ticket
        version = _version(ticket, event)  # the issue's news, ordered like the ticket's
        escalation_inbound.apply(session, ticket=ticket, version=version, settings=settings)
    escalation_service.after_attach(session, record=record, theme=theme, settings=settings)
    return f"feedback {record.id} {ticket.event_type}"


def _version(ticket: NormalizedTicket, event: InboxEvent) -> str:
    # Only Jira news needs it here (most events are merchant reports, which the fold
    # versions itself): formatting the time was a percent of the writer's time per event.
    return feedback_service.event_version(ticket.occurred_at, event.delivery_key)


for _source in ("zendesk", "jira", "intercom", "freshdesk"):
    task(f"ingest.{_source}")(ingest)
    portable_preparer(f"ingest.{_source}", install=install_ingest)(compute_ingest)
    loader(f"ingest.{_source}")(load_ingest)

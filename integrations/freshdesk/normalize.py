"""Freshdesk automation-rule webhooks in neutral terms."""

from __future__ import annotations

import re
from collections.abc import Mapping

from integrations.common import (
    html_to_text,
    load_json_object,
    lookup,
    merchant_ref,
    non_blank,
    parse_model,
    synthetic_id,
)
from integrations.contracts import (
    NormalizedTicket,
    Person,
    TicketComment,
    TicketPriority,
    TicketStatus,
    UnparseablePayload,
)
from integrations.freshdesk.schemas import FreshdeskEnvelope, FreshdeskTicket

SOURCE = "freshdesk"
MERCHANT_PREFIX = "freshdesk-company"
WRAPPER = "freshdesk_webhook"
UNSPECIFIED_EVENT = "unspecified"

# Labels and numeric codes both occur: labels in `ticket_status`, codes in `triggered_event`.
# 6 and 7 are the default custom statuses "Waiting on Customer" / "Waiting on Third Party".
STATUSES: Mapping[str, TicketStatus] = {
    "open": "open",
    "pending": "pending",
    "resolved": "solved",
    "closed": "closed",
    "waiting_on_customer": "pending",
    "waiting_on_third_party": "on_hold",
    "2": "open",
    "3": "pending",
    "4": "solved",
    "5": "closed",
    "6": "pending",
    "7": "on_hold",
}
PRIORITIES: Mapping[str, TicketPriority] = {
    "low": "low",
    "medium": "normal",
    "high": "high",
    "urgent": "urgent",
    "1": "low",
    "2": "normal",
    "3": "high",
    "4": "urgent",
}


def normalize(body: bytes, headers: Mapping[str, str]) -> NormalizedTicket | None:
    """The Freshdesk ticket event in neutral terms (every rule fires on a ticket, so never None)."""
    data = load_json_object(body)
    # The common template wraps fields in `freshdesk_webhook`; accept an unwrapped body too,
    # since whether Simple mode wraps is unconfirmed.
    ticket = (
        parse_model(FreshdeskEnvelope, data).freshdesk_webhook
        if WRAPPER in data
        else parse_model(FreshdeskTicket, data)
    )
    if ticket is None or not ticket.ticket_id:
        raise UnparseablePayload("freshdesk body has no ticket_id; fix the automation template")
    return _ticket(ticket, ticket.ticket_id)


def parse_triggered_event(text: str | None) -> tuple[str, str | dict[str, str]] | None:
    """`{status:{from:4,to:6}}` → ("status", {"from": "4", "to": "6"}); `{note_type:public}` →
    ("note_type", "public"). None when absent or not in that pseudo-syntax (it is not JSON)."""
    match = re.fullmatch(r"\{\s*(\w+)\s*:\s*(.*?)\s*\}", (text or "").strip(), flags=re.DOTALL)
    if match is None:
        return None
    name, value = match[1], match[2]
    if value.startswith("{") and value.endswith("}"):
        pairs = re.findall(r"(\w+)\s*:\s*([^,{}]*)", value[1:-1])
        return name, {key: val.strip() for key, val in pairs}
    return name, value


def _event_type(event: tuple[str, str | dict[str, str]] | None) -> str:
    """`ticket_action:created`, `note_type:private`, `status:changed`, `priority:changed`."""
    if event is None:
        return UNSPECIFIED_EVENT
    name, value = event
    return f"{name}:changed" if isinstance(value, dict) else f"{name}:{value}"


def _changed_to(event: tuple[str, str | dict[str, str]] | None, name: str) -> str | None:
    """The `to` code of a `{name:{from:..,to:..}}` event."""
    if event is None or event[0] != name or not isinstance(event[1], dict):
        return None
    return event[1].get("to")


def _ticket(ticket: FreshdeskTicket, ticket_id: str) -> NormalizedTicket:
    event = parse_triggered_event(ticket.triggered_event)
    requester = None
    if ticket.requester_name or ticket.requester_email:
        requester = Person(
            name=non_blank(ticket.requester_name), email=non_blank(ticket.requester_email)
        )
    return NormalizedTicket(
        source=SOURCE,
        external_id=f"{SOURCE}:{ticket_id}",
        external_url=non_blank(ticket.ticket_url) or non_blank(ticket.ticket_portal_url),
        event_type=_event_type(event),
        # Freshdesk stamps nothing itself; only a template-provided updated_at says when.
        occurred_at=ticket.updated_at,
        created_at=ticket.created_at,
        subject=non_blank(ticket.ticket_subject),
        description=non_blank(html_to_text(ticket.ticket_description)),
        comments=_note(ticket, ticket_id, event),
        # The rendered label is the ticket's current state; the event's code is the fallback
        # (codes above 5 are account-specific custom statuses).
        status=lookup(ticket.ticket_status, STATUSES)
        or lookup(_changed_to(event, "status"), STATUSES),
        priority=lookup(ticket.ticket_priority, PRIORITIES)
        or lookup(_changed_to(event, "priority"), PRIORITIES),
        tags=tuple(ticket.ticket_tags) if ticket.ticket_tags is not None else None,
        merchant=merchant_ref(
            MERCHANT_PREFIX,
            org_id=ticket.company_id,
            org_name=ticket.company_name,
            email=ticket.requester_email,
        ),
        requester=requester,
    )


def _note(
    ticket: FreshdeskTicket, ticket_id: str, event: tuple[str, str | dict[str, str]] | None
) -> tuple[TicketComment, ...]:
    """The added note, when the template carries its text (the standard template does not)."""
    if event is None or event[0] != "note_type" or not isinstance(event[1], str):
        return ()
    public = event[1].strip().lower() != "private"
    raw = ticket.latest_public_comment if public else ticket.latest_private_comment
    text = non_blank(html_to_text(raw))
    if text is None:
        return ()
    # Freshdesk sends no note id; derive a stable one so redeliveries collapse.
    note_id = "note-" + synthetic_id(SOURCE, ticket_id, event[1], text)
    # Only agents add notes in Freshdesk; customer messages arrive as replies.
    return (TicketComment(id=note_id, body=text, public=public, author_role="agent"),)

"""Zendesk bodies in neutral terms.

Two body families reach the same endpoint:
- event subscriptions: JSON with `type: "zen:event-type:..."` and a fixed envelope;
- trigger/automation webhooks: a JSON object the admin wrote from placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.common import (
    html_to_text,
    load_json_object,
    lookup,
    merchant_ref,
    non_blank,
    parse_model,
)
from integrations.contracts import (
    AuthorRole,
    NormalizedTicket,
    Person,
    TicketComment,
    TicketPriority,
    TicketStatus,
    UnparseablePayload,
)
from integrations.zendesk.schemas import (
    ZendeskActor,
    ZendeskComment,
    ZendeskEventEnvelope,
    ZendeskMessage,
    ZendeskTriggerBody,
)

SOURCE = "zendesk"
MERCHANT_PREFIX = "zendesk-org"
TRIGGER_EVENT_TYPE = "zendesk:trigger"
TICKET_EVENT_PREFIXES = ("zen:event-type:ticket.", "zen:event-type:messaging_ticket.")
DELETION_EVENTS = frozenset(
    {"zen:event-type:ticket.soft_deleted", "zen:event-type:ticket.permanently_deleted"}
)

# Event subscriptions send UPPERCASE enums, triggers render title case ("On-hold"); both fold.
STATUSES: Mapping[str, TicketStatus] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "on_hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
    "deleted": "deleted",
    "archived": "closed",  # closed tickets are archived after a while; still closed
    "scrubbed": "deleted",  # content redacted for good
}
PRIORITIES: Mapping[str, TicketPriority] = {
    "low": "low",
    "normal": "normal",
    "high": "high",
    "urgent": "urgent",
}


def normalize(body: bytes, headers: Mapping[str, str]) -> NormalizedTicket | None:
    """The Zendesk event in neutral terms; None for non-ticket `zen:` events."""
    data = load_json_object(body)
    event_type = data.get("type")
    if isinstance(event_type, str) and event_type.startswith("zen:"):
        if not event_type.startswith(TICKET_EVENT_PREFIXES):
            return None  # user, organization, article, ... events: not about a ticket
        return _from_event(parse_model(ZendeskEventEnvelope, data))
    # Anything else reaching this endpoint comes from a trigger, and triggers fire on tickets.
    return _from_trigger(parse_model(ZendeskTriggerBody, data))


# --------------------------------------------------------------------------- event subscriptions


def _event_ticket_id(envelope: ZendeskEventEnvelope) -> str:
    """The ticket id from `detail.id`, else from the `zen:ticket:<id>` subject."""
    if envelope.detail is not None and envelope.detail.id:
        return envelope.detail.id
    match = re.fullmatch(r"zen:ticket:(\d+)", (envelope.subject or "").strip())
    if match:
        return match.group(1)
    raise UnparseablePayload(f"{envelope.type} carries no ticket id (detail.id / subject)")


def _from_event(envelope: ZendeskEventEnvelope) -> NormalizedTicket:
    detail = envelope.detail
    event = envelope.event
    status = lookup(detail.status if detail else None, STATUSES)
    priority = lookup(detail.priority if detail else None, PRIORITIES)
    # A change event's `current` is the new value; use it when the snapshot lacks the field.
    if status is None and envelope.type.endswith(".status_changed") and event is not None:
        status = lookup(_as_text(event.current), STATUSES)
    if priority is None and envelope.type.endswith(".priority_changed") and event is not None:
        priority = lookup(_as_text(event.current), PRIORITIES)
    deleted = envelope.type in DELETION_EVENTS or status == "deleted"
    return NormalizedTicket(
        source=SOURCE,
        external_id=f"{SOURCE}:{_event_ticket_id(envelope)}",
        event_type=envelope.type,
        occurred_at=envelope.time or (detail.updated_at if detail else None),
        created_at=detail.created_at if detail else None,
        subject=non_blank(detail.subject) if detail else None,
        description=non_blank(detail.description) if detail else None,
        comments=_event_comments(envelope),
        status="deleted" if deleted else status,
        priority=priority,
        tags=tuple(detail.tags) if detail and detail.tags is not None else None,
        merchant=merchant_ref(MERCHANT_PREFIX, org_id=detail.organization_id) if detail else None,
        requester=Person(id=detail.requester_id) if detail and detail.requester_id else None,
        deleted=deleted,
    )


def _as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _event_comments(envelope: ZendeskEventEnvelope) -> tuple[TicketComment, ...]:
    event = envelope.event
    if event is None:
        return ()
    if event.comment is not None:
        comment = _comment(event.comment, envelope)
        return (comment,) if comment else ()
    if event.message is not None:
        message = _message(event.message, event.actor, envelope)
        return (message,) if message else ()
    return ()


def _comment(comment: ZendeskComment, envelope: ZendeskEventEnvelope) -> TicketComment | None:
    text = non_blank(comment.body) or non_blank(html_to_text(comment.html_body))
    if not comment.id or text is None:
        return None
    author = comment.author
    role: AuthorRole = "unknown"
    if author is not None and author.is_staff is not None:
        role = "agent" if author.is_staff else "requester"
    return TicketComment(
        id=comment.id,
        body=text,
        # Absent visibility is treated as private: leaking an internal note is the worse error.
        public=bool(comment.is_public),
        author_role=role,
        author_name=author.name if author else None,
        created_at=comment.created_at or envelope.time,
    )


_ACTOR_ROLES: Mapping[str, AuthorRole] = {
    "agent": "agent",
    "admin": "agent",
    "end_user": "requester",
    "user": "requester",
    "bot": "system",
    "system": "system",
}


def _message(
    message: ZendeskMessage, actor: ZendeskActor | None, envelope: ZendeskEventEnvelope
) -> TicketComment | None:
    text = non_blank(message.body)
    if not message.id or text is None:
        return None
    role = lookup(actor.type if actor else None, _ACTOR_ROLES) or "unknown"
    return TicketComment(
        id=message.id,
        body=text,
        public=True,  # messaging conversations are seen by the end user
        author_role=role,
        author_name=actor.name if actor else None,
        created_at=envelope.time,
    )


# --------------------------------------------------------------------------- trigger bodies


def _from_trigger(body: ZendeskTriggerBody) -> NormalizedTicket:
    if not body.ticket_id:
        # A pre-rendered `message` alone (no ticket_id) cannot be tied to a ticket; scraping
        # "Ticket #7" out of Markdown would be guesswork, so it goes to quarantine instead.
        raise UnparseablePayload("zendesk trigger body has no ticket_id; fix the trigger template")
    requester = None
    if body.requester_id or body.requester_name or body.requester_email:
        requester = Person(
            id=body.requester_id,
            name=non_blank(body.requester_name),
            email=non_blank(body.requester_email),
        )
    return NormalizedTicket(
        source=SOURCE,
        external_id=f"{SOURCE}:{body.ticket_id}",
        external_url=_trigger_url(body),
        event_type=non_blank(body.event_type) or TRIGGER_EVENT_TYPE,
        # Templates usually render human dates ("February 3, 2025"); those parse to None
        # rather than a midnight that would misorder events.
        occurred_at=body.updated_at,
        created_at=body.created_at,
        subject=non_blank(body.subject),
        # Placeholders render as unformatted text, so the description is already plain.
        description=non_blank(body.description),
        status=lookup(body.status, STATUSES),
        priority=lookup(body.priority, PRIORITIES),
        tags=tuple(body.tags) if body.tags is not None else None,
        merchant=merchant_ref(
            MERCHANT_PREFIX,
            org_id=body.organization_id,
            org_name=body.organization_name,
            email=body.requester_email,
        ),
        requester=requester,
    )


def _trigger_url(body: ZendeskTriggerBody) -> str | None:
    """`{{ticket.link}}` has a scheme; `{{ticket.url}}` does not, so add one."""
    link = non_blank(body.link)
    if link:
        return link
    url = non_blank(body.url)
    if url and "://" not in url:
        return f"https://{url}"
    return url

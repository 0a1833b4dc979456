"""Intercom conversation and ticket notifications in neutral terms."""

from __future__ import annotations

from collections.abc import Mapping

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
    MerchantRef,
    NormalizedTicket,
    Person,
    TicketComment,
    TicketPriority,
    TicketStatus,
    UnparseablePayload,
)
from integrations.intercom.schemas import (
    IntercomItem,
    IntercomMessage,
    IntercomNotification,
    IntercomPart,
)

SOURCE = "intercom"
MERCHANT_PREFIX = "intercom-company"
TICKET_KINDS = frozenset({"conversation", "ticket"})
DELETED_TOPICS = frozenset({"conversation.deleted", "ticket.deleted"})
PRIVATE_PART_TYPES = frozenset({"note", "note_and_reopen"})
TITLE_ATTRIBUTE = "_default_title_"
DESCRIPTION_ATTRIBUTE = "_default_description_"

CONVERSATION_STATES: Mapping[str, TicketStatus] = {
    "open": "open",
    "closed": "closed",
    "snoozed": "on_hold",
}
TICKET_STATES: Mapping[str, TicketStatus] = {
    "submitted": "new",
    "in_progress": "open",
    "waiting_on_customer": "pending",
    "on_hold": "on_hold",
    "resolved": "solved",
}
# Intercom only flags a conversation as prioritised or not; there is no finer scale.
PRIORITIES: Mapping[str, TicketPriority] = {"priority": "high", "not_priority": "normal"}
AUTHOR_ROLES: Mapping[str, AuthorRole] = {
    "admin": "agent",
    "team": "agent",
    # Bots (Fin, operator) post automated messages: not a human agent's reply.
    "bot": "system",
    "user": "requester",
    "lead": "requester",
    "contact": "requester",
}


def normalize(body: bytes, headers: Mapping[str, str]) -> NormalizedTicket | None:
    """The conversation/ticket notification in neutral terms; None for ping and other items."""
    data = load_json_object(body)
    if not isinstance(data.get("topic"), str):
        raise UnparseablePayload("no topic: not an Intercom notification")
    notification = parse_model(IntercomNotification, data)
    if notification.topic == "ping":
        return None
    item = notification.data.item if notification.data else None
    kind = _kind(notification.topic, item)
    if kind not in TICKET_KINDS:
        return None  # contact, company, visitor... notifications
    if item is None or not item.id:
        raise UnparseablePayload(f"{notification.topic} notification has no {kind} id")
    return _ticket(notification, item, kind)


def _kind(topic: str, item: IntercomItem | None) -> str:
    """The item type, or the topic's first word when the item does not say."""
    if item is not None and item.type:
        return item.type
    return topic.split(".", 1)[0]


def _ticket(notification: IntercomNotification, item: IntercomItem, kind: str) -> NormalizedTicket:
    opening = item.conversation_message or item.source
    requester = _requester(item, opening)
    deleted = notification.topic in DELETED_TOPICS
    return NormalizedTicket(
        source=SOURCE,
        # Tickets and conversations share one id space; `id` is the API id (the inbox
        # `ticket_id` number is explicitly not for API use).
        external_id=f"{SOURCE}:{item.id}",
        external_url=_link(item),
        event_type=notification.topic,
        occurred_at=notification.created_at,
        created_at=item.created_at,
        subject=_subject(item, opening, kind),
        description=_description(item, opening, kind),
        comments=_comments(item),
        status="deleted" if deleted else _status(item, kind),
        priority=lookup(item.priority, PRIORITIES),
        tags=tuple(t.name for t in item.tags.tags if t.name) if item.tags is not None else None,
        merchant=_merchant(item, requester),
        requester=requester,
        deleted=deleted,
    )


def _subject(item: IntercomItem, opening: IntercomMessage | None, kind: str) -> str | None:
    if kind == "ticket":
        return _attribute(item, TITLE_ATTRIBUTE)
    return non_blank(item.title) or non_blank(html_to_text(opening.subject if opening else None))


def _description(item: IntercomItem, opening: IntercomMessage | None, kind: str) -> str | None:
    if kind == "ticket":
        return _attribute(item, DESCRIPTION_ATTRIBUTE)
    return non_blank(html_to_text(opening.body if opening else None))


def _attribute(item: IntercomItem, name: str) -> str | None:
    value = (item.ticket_attributes or {}).get(name)
    return non_blank(value) if isinstance(value, str) else None


def _status(item: IntercomItem, kind: str) -> TicketStatus | None:
    if kind == "ticket":
        state = item.ticket_state
        category = state if isinstance(state, str) else (state.category if state else None)
        if (status := lookup(category, TICKET_STATES)) is not None:
            return status
    if (status := lookup(item.state, CONVERSATION_STATES)) is not None:
        return status
    if item.open is None:
        return None
    return "open" if item.open else "closed"


def _comments(item: IntercomItem) -> tuple[TicketComment, ...]:
    parts = (item.conversation_parts.conversation_parts if item.conversation_parts else []) + (
        item.ticket_parts.ticket_parts if item.ticket_parts else []
    )
    converted = (_comment(part) for part in parts)
    return tuple(comment for comment in converted if comment is not None)


def _comment(part: IntercomPart) -> TicketComment | None:
    """A part with text (replies, notes, assignment messages); state changes have none."""
    text = non_blank(html_to_text(part.body))
    if not part.id or text is None:
        return None
    author = part.author
    return TicketComment(
        id=part.id,
        body=text,
        public=(part.part_type or "") not in PRIVATE_PART_TYPES,
        author_role=lookup(author.type if author else None, AUTHOR_ROLES) or "unknown",
        author_name=non_blank(author.name) if author else None,
        created_at=part.created_at,
    )


def _requester(item: IntercomItem, opening: IntercomMessage | None) -> Person | None:
    """1.x `user`; else a contact-typed opening author (2.x); else the first listed contact."""
    if item.user is not None and item.user.id:
        user = item.user
        return Person(id=user.id, name=non_blank(user.name), email=non_blank(user.email))
    author = opening.author if opening else None
    if author is not None and lookup(author.type, AUTHOR_ROLES) == "requester" and author.id:
        return Person(id=author.id, name=non_blank(author.name), email=non_blank(author.email))
    contacts = item.contacts.contacts if item.contacts else []
    if contacts and contacts[0].id:
        first = contacts[0]
        return Person(id=first.id, name=non_blank(first.name), email=non_blank(first.email))
    return None


def _merchant(item: IntercomItem, requester: Person | None) -> MerchantRef | None:
    """The item's company, else the user's first company, else the requester's email domain."""
    company = item.company
    companies = item.user.companies.companies if item.user and item.user.companies else []
    if company is None and companies:
        company = companies[0]
    return merchant_ref(
        MERCHANT_PREFIX,
        org_id=item.company_id or (company.id if company else None),
        org_name=company.name if company else None,
        email=requester.email if requester else None,
    )


def _link(item: IntercomItem) -> str | None:
    url = (item.links or {}).get("conversation_web")
    return non_blank(url) if isinstance(url, str) else None

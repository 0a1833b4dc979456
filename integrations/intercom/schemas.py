"""Pydantic shapes of Intercom `notification_event` bodies (API 1.x and 2.x item shapes)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from integrations.common import Id, Lenient, Text, Timestamp


class IntercomAuthor(Lenient):
    """Part/message author: `type` is admin, bot, team, user, lead or contact."""

    id: Id = None
    type: Text = None
    name: Text = None
    email: Text = None


class IntercomPart(Lenient):
    id: Id = None
    part_type: Text = None
    body: Text = None  # HTML; null for state changes (close, priority_changed, ...)
    created_at: Timestamp = None
    author: IntercomAuthor | None = None


class IntercomConversationParts(Lenient):
    conversation_parts: list[IntercomPart] = Field(default_factory=list)


class IntercomTicketParts(Lenient):
    ticket_parts: list[IntercomPart] = Field(default_factory=list)


class IntercomMessage(Lenient):
    """The opening message: `conversation_message` (1.x) or `source` (2.x)."""

    id: Id = None
    subject: Text = None
    body: Text = None
    author: IntercomAuthor | None = None


class IntercomTag(Lenient):
    id: Id = None
    name: Text = None


class IntercomTagList(Lenient):
    tags: list[IntercomTag] = Field(default_factory=list)


class IntercomCompany(Lenient):
    id: Id = None
    name: Text = None


class IntercomCompanyList(Lenient):
    companies: list[IntercomCompany] = Field(default_factory=list)


class IntercomUser(Lenient):
    """The 1.x `user` of a conversation (a user or a lead)."""

    id: Id = None
    type: Text = None
    name: Text = None
    email: Text = None
    companies: IntercomCompanyList | None = None


class IntercomContactRef(Lenient):
    id: Id = None
    external_id: Text = None
    name: Text = None
    email: Text = None


class IntercomContactList(Lenient):
    contacts: list[IntercomContactRef] = Field(default_factory=list)


class IntercomTicketState(Lenient):
    id: Id = None
    category: Text = None  # submitted | in_progress | waiting_on_customer | resolved
    internal_label: Text = None


class IntercomItem(Lenient):
    """A conversation or a ticket (other item types are not about a ticket)."""

    type: Text = None
    id: Id = None
    ticket_id: Id = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    title: Text = None
    state: Text = None
    open: bool | None = None
    priority: Text = None  # "priority" | "not_priority"
    user: IntercomUser | None = None
    conversation_message: IntercomMessage | None = None
    source: IntercomMessage | None = None
    contacts: IntercomContactList | None = None
    tags: IntercomTagList | None = None
    conversation_parts: IntercomConversationParts | None = None
    ticket_parts: IntercomTicketParts | None = None
    ticket_attributes: dict[str, Any] | None = None
    ticket_state: IntercomTicketState | str | None = None
    company_id: Id = None
    company: IntercomCompany | None = None
    links: dict[str, Any] | None = None


class IntercomData(Lenient):
    item: IntercomItem | None = None


class IntercomNotification(Lenient):
    id: Id = None  # "notif_..."; null for `ping`
    topic: str
    app_id: Id = None
    created_at: Timestamp = None  # unix seconds
    data: IntercomData | None = None

"""Pydantic shapes of Zendesk bodies: event subscriptions (`zen:event-type:*`) and triggers.

Event-subscription ids inside `detail` arrive as strings and enums UPPERCASE; trigger bodies
are whatever the admin wrote, so their fields accept the usual placeholder-derived key names.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from integrations.common import Id, Lenient, Tags, Text, Timestamp


class ZendeskAuthor(Lenient):
    id: Id = None
    name: Text = None
    is_staff: bool | None = None


class ZendeskComment(Lenient):
    id: Id = None
    body: Text = None
    html_body: Text = None
    is_public: bool | None = None
    author: ZendeskAuthor | None = None
    created_at: Timestamp = None


class ZendeskActor(Lenient):
    id: Id = None
    name: Text = None
    type: Text = None


class ZendeskMessage(Lenient):
    id: Id = None
    body: Text = None


class ZendeskEventData(Lenient):
    """The `event` object: what changed (`current`/`previous`), or the comment/message added."""

    current: Any = None
    previous: Any = None
    comment: ZendeskComment | None = None
    actor: ZendeskActor | None = None
    message: ZendeskMessage | None = None


class ZendeskVia(Lenient):
    channel: Text = None


class ZendeskTicketDetail(Lenient):
    id: Id = None
    subject: Text = None
    description: Text = None
    status: Text = None
    priority: Text = None
    type: Text = None
    tags: Tags = None
    organization_id: Id = None
    requester_id: Id = None
    assignee_id: Id = None
    external_id: Text = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    via: ZendeskVia | None = None


class ZendeskEventEnvelope(Lenient):
    """A `zen:event-type:*` delivery (CloudEvents-like)."""

    type: str
    id: Id = None
    time: Timestamp = None
    subject: Text = None  # "zen:ticket:5158"
    account_id: Id = None
    zendesk_event_version: Text = None
    detail: ZendeskTicketDetail | None = None
    event: ZendeskEventData | None = None


def _keys(*names: str) -> Any:
    """A validation alias accepting any of the placeholder-derived key names."""
    return Field(default=None, validation_alias=AliasChoices(*names))


class ZendeskTriggerBody(Lenient):
    """An admin-written trigger/automation JSON body (e.g. Zulip's documented template)."""

    ticket_id: Id = _keys("ticket_id", "id")
    subject: Text = _keys("ticket_title", "ticket_subject", "title", "subject")
    description: Text = _keys("ticket_description", "description")
    status: Text = _keys("ticket_status", "status")
    priority: Text = _keys("ticket_priority", "priority")
    ticket_type: Text = _keys("ticket_type", "type")
    tags: Tags = _keys("tags", "ticket_tags")
    link: Text = _keys("link", "ticket_link")
    url: Text = _keys("ticket_url", "url")
    requester_id: Id = _keys("requester_id", "ticket_requester_id")
    requester_name: Text = _keys("requester_full_name", "requester_name", "ticket_requester_name")
    requester_email: Text = _keys("requester_email", "ticket_requester_email")
    organization_id: Id = _keys("organization_id", "ticket_organization_id")
    organization_name: Text = _keys(
        "organization_name", "organization", "ticket_organization_name", "ticket_organization"
    )
    created_at: Timestamp = _keys("created_at_with_timestamp", "created_at", "ticket_created_at")
    updated_at: Timestamp = _keys("updated_at_with_timestamp", "updated_at", "ticket_updated_at")
    event_type: Text = _keys("event_type", "event")
    message: Text = None

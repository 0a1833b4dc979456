"""Pydantic shapes of Freshdesk automation-rule bodies (the `freshdesk_webhook` template).

Every value is admin-chosen placeholder output, usually a string; key names follow the
common template (Zulip's) plus the `ticket_contact_*`/`ticket_company_*` variants seen in use.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from integrations.common import Id, Lenient, Tags, Text, Timestamp


def _keys(*names: str) -> Any:
    """A validation alias accepting any of the placeholder-derived key names."""
    return Field(default=None, validation_alias=AliasChoices(*names))


class FreshdeskTicket(Lenient):
    triggered_event: Text = None  # pseudo-syntax, e.g. "{status:{from:4,to:6}}"
    ticket_id: Id = None
    ticket_url: Text = None
    ticket_portal_url: Text = None
    ticket_type: Text = None
    ticket_subject: Text = None
    ticket_description: Text = None  # HTML
    ticket_status: Text = None  # label ("Waiting on Customer") or numeric code
    ticket_priority: Text = None  # label ("Medium") or numeric code 1-4
    ticket_tags: Tags = None
    requester_name: Text = _keys("requester_name", "ticket_contact_name")
    requester_email: Text = _keys("requester_email", "ticket_contact_email")
    company_id: Id = _keys("ticket_company_id", "company_id")
    company_name: Text = _keys("ticket_company_name", "company_name")
    created_at: Timestamp = _keys("ticket_created_at", "created_at")
    updated_at: Timestamp = _keys("ticket_updated_at", "updated_at")
    # Optional template extension ({{ticket.latest_public_comment}} etc.): the note text
    # is otherwise absent from note events.
    latest_public_comment: Text = _keys("ticket_latest_public_comment", "latest_public_comment")
    latest_private_comment: Text = _keys("ticket_latest_private_comment", "latest_private_comment")


class FreshdeskEnvelope(Lenient):
    freshdesk_webhook: FreshdeskTicket | None = None

"""Signing test deliveries the way each vendor does (used by tests and bench/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

JSON_HEADERS = {"content-type": "application/json"}


def zendesk_headers(body: bytes, secret: str, *, at: datetime | None = None) -> dict[str, str]:
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        **JSON_HEADERS,
        "x-zendesk-webhook-signature": base64.b64encode(digest).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def jira_headers(body: bytes, secret: str, *, identifier: str | None = None) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {**JSON_HEADERS, "x-hub-signature": f"sha256={digest}"}
    if identifier:
        headers["x-atlassian-webhook-identifier"] = identifier
    return headers


def intercom_headers(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {**JSON_HEADERS, "x-hub-signature": f"sha1={digest}"}


def freshdesk_headers(_body: bytes, token: str) -> dict[str, str]:
    return {**JSON_HEADERS, "x-relay-token": token}


SIGNERS = {
    "zendesk": zendesk_headers,
    "jira": jira_headers,
    "intercom": intercom_headers,
    "freshdesk": freshdesk_headers,
}


def signed(source: str, body: bytes, secret: str) -> dict[str, str]:
    """Headers that authenticate `body` for `source` with `secret`."""
    return SIGNERS[source](body, secret)


def zendesk_event(
    event_type: str,
    *,
    ticket_id: int,
    event_id: str,
    time: str,
    status: str = "OPEN",
    subject: str = "GCash payments failing",
    description: str = "Our GCash checkout fails.",
    comment: dict[str, Any] | None = None,
    organization_id: str | None = "9001",
    created_at: str | None = None,
) -> bytes:
    """A Zendesk event-subscription body (zen:event-type:ticket.*) as Zendesk sends it.

    The ticket's `created_at` is the event's time unless given (a real ticket keeps the
    time it was opened through all its events)."""
    event: dict[str, Any] = {"meta": {"sequence": {"id": "seq", "position": 1}}}
    if comment is not None:
        event["comment"] = comment
    body = {
        "type": f"zen:event-type:ticket.{event_type}",
        "account_id": 123456,
        "id": event_id,
        "time": time,
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {
            "id": str(ticket_id),
            "subject": subject,
            "description": description,
            "status": status,
            "priority": "HIGH",
            "type": "INCIDENT",
            "tags": ["gcash"],
            "organization_id": organization_id,
            "requester_id": "501",
            "created_at": created_at or time,
            "updated_at": time,
            "via": {"channel": "web"},
        },
        "event": event,
    }
    return json.dumps(body).encode()

"""Outbound Zendesk (the `HelpdeskNotes` protocol): internal notes through the Tickets API.

A note is a ticket update carrying a private comment
(`PUT /api/v2/tickets/{id}.json {"ticket": {"comment": {"body", "public": false}}}`).
Zendesk has no idempotency key for updates, so callers put a marker in the note and ask
`has_note` first: a retry after a timeout finds the note the timed-out call added.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations.contracts import (
    OutboundRateLimited,
    OutboundRejected,
    OutboundUnavailable,
)

COMMENTS_PAGE = 100  # the newest comments are checked for a marker; notes are recent


class ZendeskNotes:
    """A `HelpdeskNotes` on one Zendesk account, authenticated with an API token."""

    def __init__(
        self,
        *,
        url: str,
        email: str,
        api_token: str,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            auth=(f"{email}/token", api_token),
            timeout=timeout,
            headers={"Accept": "application/json"},
            transport=transport,
        )

    def has_note(self, *, ticket_id: str, marker: str) -> bool:
        response = self._call(
            "GET",
            f"/api/v2/tickets/{_ticket(ticket_id)}/comments.json",
            params={"sort_order": "desc", "per_page": COMMENTS_PAGE},
        )
        comments = response.json().get("comments") or []
        return any(marker in str(c.get("body") or c.get("plain_body") or "") for c in comments)

    def add_internal_note(self, *, ticket_id: str, body: str) -> str | None:
        payload = {"ticket": {"comment": {"body": body, "public": False}}}
        response = self._call("PUT", f"/api/v2/tickets/{_ticket(ticket_id)}.json", json=payload)
        return _comment_id(response.json())

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise OutboundUnavailable(f"Zendesk unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429:
            raise OutboundRateLimited.from_header(
                f"Zendesk rate limit on {method} {path}", response.headers.get("Retry-After")
            )
        if response.status_code >= 500 or response.status_code == 409:
            # 409: Zendesk's "another update is in progress" on the same ticket.
            raise OutboundUnavailable(f"Zendesk {response.status_code} on {method} {path}")
        if response.status_code >= 400:
            raise OutboundRejected(
                f"Zendesk refused {method} {path} ({response.status_code}): {response.text[:300]}"
            )
        return response


def _ticket(ticket_id: str) -> str:
    """The numeric ticket id; anything else would address another URL."""
    if not ticket_id.isdigit():
        raise OutboundRejected(f"not a Zendesk ticket id: {ticket_id!r}")
    return ticket_id


def _comment_id(data: dict[str, Any]) -> str | None:
    events = (data.get("audit") or {}).get("events") or []
    ids = [str(e["id"]) for e in events if e.get("type") == "Comment" and "id" in e]
    return ids[0] if ids else None

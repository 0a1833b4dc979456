"""A fake Zendesk Support speaking the Tickets API that Relay's write-back uses.

`PUT /api/v2/tickets/{id}.json` with `{"ticket": {"comment": {...}}}` adds a comment (an
internal note when `public` is false) and answers with the ticket and its audit, as
Zendesk does; `GET /api/v2/tickets/{id}/comments.json` lists them (`sort_order` honoured);
`GET /api/v2/tickets/{id}.json` shows the ticket. API-token Basic auth
(`{email}/token:{token}`) is required. Tickets spring into existence on first use unless
`strict=True`, in which case only `add_ticket`-ed ones exist (404 otherwise).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

TICKET = r"/api/v2/tickets/(?P<id>\d+)(?:\.json)?"
COMMENTS = r"/api/v2/tickets/(?P<id>\d+)/comments(?:\.json)?"


class FakeZendesk(FakeServer):
    def __init__(self, *, strict: bool = False) -> None:
        super().__init__()
        self.strict = strict
        self.tickets: dict[str, dict[str, Any]] = {}
        self._next_comment = 900_000
        self.route("PUT", TICKET, self._update)
        self.route("GET", TICKET, self._show)
        self.route("GET", COMMENTS, self._comments)

    # ------------------------------------------------------------------ for tests

    def add_ticket(self, ticket_id: int | str, *, subject: str = "A ticket") -> None:
        with self.lock:
            self._ticket(str(ticket_id), create=True)["subject"] = subject

    def notes(self, ticket_id: int | str) -> list[dict[str, Any]]:
        """Internal (private) comments on the ticket, oldest first."""
        with self.lock:
            ticket = self.tickets.get(str(ticket_id)) or {"comments": []}
            return [c for c in ticket["comments"] if not c["public"]]

    def note_updates(self) -> list[Recorded]:
        """Every ticket update request received (faults included)."""
        return self.requests_to("PUT", TICKET)

    # ------------------------------------------------------------------ routes

    def _authorised(self, request: Recorded) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme != "Basic":
            return False
        try:
            user = base64.b64decode(value).decode()
        except ValueError:
            return False
        return "/token:" in user

    def _ticket(self, ticket_id: str, *, create: bool) -> dict[str, Any] | None:
        if ticket_id not in self.tickets and create:
            self.tickets[ticket_id] = {"id": int(ticket_id), "subject": "", "comments": []}
        return self.tickets.get(ticket_id)

    def _update(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorised(request):
            return Reply.json({"error": "Couldn't authenticate you"}, status=401)
        ticket = self._ticket(match["id"], create=not self.strict)
        if ticket is None:
            return Reply.json({"error": "RecordNotFound"}, status=404)
        comment = ((request.json or {}).get("ticket") or {}).get("comment") or {}
        body = comment.get("body") or comment.get("html_body")
        if not isinstance(body, str) or not body.strip():
            return Reply.json(
                {"error": "RecordInvalid", "details": {"comment": "blank"}}, status=422
            )
        self._next_comment += 1
        stored = {
            "id": self._next_comment,
            "type": "Comment",
            "body": body,
            "plain_body": body,
            "public": bool(comment.get("public", True)),
            "author_id": 1,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        ticket["comments"].append(stored)
        audit = {"id": self._next_comment + 1, "ticket_id": ticket["id"], "events": [stored]}
        return Reply.json({"ticket": self._public(ticket), "audit": audit})

    def _show(self, request: Recorded, match: re.Match[str]) -> Reply:
        ticket = self._ticket(match["id"], create=not self.strict)
        if ticket is None:
            return Reply.json({"error": "RecordNotFound"}, status=404)
        return Reply.json({"ticket": self._public(ticket)})

    def _comments(self, request: Recorded, match: re.Match[str]) -> Reply:
        ticket = self._ticket(match["id"], create=not self.strict)
        if ticket is None:
            return Reply.json({"error": "RecordNotFound"}, status=404)
        comments = list(ticket["comments"])
        if request.param("sort_order") == "desc":
            comments.reverse()
        return Reply.json({"comments": comments, "next_page": None, "count": len(comments)})

    def _public(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return {"id": ticket["id"], "subject": ticket["subject"], "status": "open"}

"""The triage assistant: API and the record's page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.auth import users
from service.db import Database
from service.feedback.models import Feedback
from tests.escalation.conftest import GCASH_TICKETS, Seeded, post_zendesk
from tests.signing import zendesk_event

PASSWORD = "correct horse battery staple"
REPLY = (
    "GCash caps a single payment by the customer's wallet limit: AMOUNT_EXCEED_LIMIT means "
    "the customer's GCash limit was reached, not yours. Ask them to verify their GCash account."
)


def _solve_with_reply(client: TestClient, ticket: int) -> None:
    # Zendesk sends the ticket's own subject and description with every event: a comment
    # does not change what the record reads.
    _, org, subject, description = next(t for t in GCASH_TICKETS if t[0] == ticket)
    stamp = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    comment = {
        "id": f"{ticket}-r",
        "body": REPLY,
        "is_public": True,
        "author": {"id": "2", "is_staff": True, "name": "Rina (CS)"},
    }
    body = zendesk_event(
        "comment_added",
        ticket_id=ticket,
        event_id=f"r-{ticket}",
        time=stamp,
        status="SOLVED",
        subject=subject,
        description=description,
        comment=comment,
        organization_id=org,
    )
    post_zendesk(client, body)


def _record(db: Database, ticket: int) -> Feedback:
    with db.session() as session:
        found = session.scalar(select(Feedback).where(Feedback.external_id == f"zendesk:{ticket}"))
        assert found is not None
        return found


def test_triage_assembles_codes_checks_theme_and_a_suggested_reply(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    _solve_with_reply(client, 5101)
    run_worker()
    record = _record(db, 5103)
    answer = client.get(f"/api/v1/feedback/{record.id}/triage", headers=admin_headers)
    assert answer.status_code == 200
    data = answer.json()
    [code] = data["error_codes"]
    assert (
        code["code"] == "AMOUNT_EXCEED_LIMIT" and code["known"] and code["meaning"] and code["fix"]
    )
    assert {"id": "pi_8ZyXwVuTsRqPoN", "kind": "Payment Intent"} in data["resource_ids"]
    assert {"id": "evt_1QaZwSxEdCrFvT", "kind": "Event"} in data["resource_ids"]
    assert any("activated" in check for check in data["checks"])
    assert any("key prefix" in check.lower() for check in data["checks"])
    assert data["theme"]["id"] == seeded.theme_id and data["theme"]["jira"] == []
    reply = data["suggested_reply"]
    assert reply["suggestion"] is True and reply["text"] == REPLY
    assert reply["based_on_ticket"] == "zendesk:5101" and "same theme" in reply["why"]
    assert data["timeline"][0]["kind"] == "opened"


def test_triage_of_an_unknown_record_is_404(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    answer = client.get("/api/v1/feedback/fb_nope/triage", headers=admin_headers)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "feedback_not_found"


def test_the_record_page_shows_the_triage_section(
    client: TestClient, seeded: Seeded, db: Database, run_worker: Callable[[], int]
) -> None:
    _solve_with_reply(client, 5101)
    run_worker()
    with db.session() as session:
        users.add_user(session, email="cs@example.ph", role="cs", password=PASSWORD)
    record = _record(db, 5102)
    assert client.get(f"/feedback/{record.id}", follow_redirects=False).status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match is not None
    form = {"email": "cs@example.ph", "password": PASSWORD, "next": "/", "csrf_token": match[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    page = client.get(f"/feedback/{record.id}")
    assert page.status_code == 200
    html = page.text
    assert "Triage" in html and "AMOUNT_EXCEED_LIMIT" in html and "Suggested reply" in html
    assert "Relay never sends it" in html and json.dumps(REPLY)[1:40] in html
    assert "<script" not in html

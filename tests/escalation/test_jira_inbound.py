"""Jira webhooks on linked issues move the theme; notes reach each ticket exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from service.db import Database
from service.escalation.models import EngineeringComment, JiraLink
from service.themes.models import Theme
from tests.escalation.conftest import PROJECT, Seeded, post_jira
from tests.fakes.jira_server import FakeJira
from tests.fakes.zendesk_server import FakeZendesk

KEY = f"{PROJECT}-1"


def _escalated(
    client: TestClient, headers: dict[str, str], seeded: Seeded, run_worker: Callable[[], int]
) -> None:
    response = client.post(f"/api/v1/themes/{seeded.theme_id}/escalate", headers=headers)
    assert response.status_code == 202
    run_worker()  # files the issue, then the "escalated" notes


def _theme(db: Database, theme_id: str) -> Theme:
    with db.session() as session:
        theme = session.get(Theme, theme_id)
        assert theme is not None
        return theme


def test_done_delivered_three_times_and_out_of_order_fixes_once_and_notes_once(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    _escalated(client, admin_headers, seeded, run_worker)
    now = int(time.time() * 1000)
    jira.move(KEY, "In Progress")
    in_progress = jira.webhook(KEY, timestamp_ms=now)
    jira.move(KEY, "Done", fix_version="2026.11.2")
    done = jira.webhook(KEY, timestamp_ms=now + 60_000, changed=("status", "resolution"))

    post_jira(client, done, identifier="delivery-done")
    run_worker()
    post_jira(client, done, identifier="delivery-done")  # Jira's retry: same identifier
    post_jira(client, done, identifier="delivery-done-again")  # a second webhook, same news
    run_worker()
    post_jira(client, in_progress, identifier="delivery-progress")  # older news, arriving last
    run_worker()

    theme = _theme(db, seeded.theme_id)
    assert theme.status == "fixed"
    assert "2026.11.2" in (theme.status_reason or "") and "Done" in (theme.status_reason or "")
    with db.session() as session:
        link = session.get(JiraLink, KEY)
        assert link is not None and link.fix_versions == ["2026.11.2"]
        assert link.resolution == "Done" and link.resolved_at is not None
    for ticket in seeded.tickets:
        notes = [n["body"] for n in zendesk.notes(ticket)]
        assert len(notes) == 2, notes  # escalated, then fixed: each once
        assert "Escalated to Engineering as Jira " + KEY in notes[0]
        assert "fixed it in 2026.11.2" in notes[1] and KEY in notes[1]
    assert len(zendesk.note_updates()) == 6


def test_in_progress_then_wont_do(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    _escalated(client, admin_headers, seeded, run_worker)
    now = int(time.time() * 1000)
    jira.move(KEY, "In Progress")
    post_jira(client, jira.webhook(KEY, timestamp_ms=now), identifier="p")
    run_worker()
    assert _theme(db, seeded.theme_id).status == "investigating"
    jira.move(KEY, "Done", resolution="Won't Do")
    post_jira(client, jira.webhook(KEY, timestamp_ms=now + 1000), identifier="w")
    run_worker()
    assert _theme(db, seeded.theme_id).status == "wont_fix"
    assert all(len(zendesk.notes(t)) == 1 for t in seeded.tickets)  # only "escalated"


def test_engineers_comments_become_the_timeline_and_relays_own_do_not(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    _escalated(client, admin_headers, seeded, run_worker)
    now = int(time.time() * 1000)
    relay_own = jira.comment(KEY, "*The theme has grown:* ... _Posted by Relay (5 merchants)_")
    mine = jira.comment(
        KEY, "Root cause: the GCash limit table. Key sk_live_abcdefghijklmnop1234 rotated."
    )
    for n, comment in enumerate((relay_own, mine)):
        body = jira.webhook(
            KEY, event="comment_created", timestamp_ms=now + n, changed=(), comment=comment
        )
        post_jira(client, body, identifier=f"c{n}")
    run_worker()
    answer = client.get(f"/api/v1/themes/{seeded.theme_id}/escalation", headers=admin_headers)
    timeline = answer.json()["engineering_timeline"]
    assert [c["author"] for c in timeline] == ["Ana Engineer"]
    assert timeline[0]["body"].startswith("Root cause") and "sk_live_" not in timeline[0]["body"]
    with db.session() as session:
        assert session.query(EngineeringComment).count() == 1


def test_an_issue_engineering_filed_that_names_a_ticket_is_linked(
    client: TestClient,
    seeded: Seeded,
    jira: FakeJira,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    key = jira.add_issue(
        project="ENG",
        summary="GCash limit check rejects small amounts",
        description="Seen in Zendesk ticket #5102 and others.",
    )
    now = int(time.time() * 1000)
    post_jira(
        client, jira.webhook(key, event="jira:issue_created", timestamp_ms=now), identifier="e1"
    )
    run_worker()
    with db.session() as session:
        link = session.get(JiraLink, key)
        assert link is not None and link.theme_id == seeded.theme_id and link.origin == "mention"
    assert key in _theme(db, seeded.theme_id).jira_keys
    jira.move(key, "Done", fix_version="9.9")
    post_jira(client, jira.webhook(key, timestamp_ms=now + 5000), identifier="e2")
    run_worker()
    assert _theme(db, seeded.theme_id).status == "fixed"
    for ticket in seeded.tickets:  # linked while "To Do" (escalated), then fixed
        notes = [n["body"] for n in zendesk.notes(ticket)]
        assert len(notes) == 2 and key in notes[0] and "fixed it in 9.9" in notes[1]

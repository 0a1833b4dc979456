"""Outbound Jira: the real `jira` client against a fake Jira on loopback."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db import Database
from service.escalation.models import Escalation
from service.feedback.models import Feedback
from service.inbox.models import EventStatus
from service.themes.models import Theme
from tests.escalation.conftest import (
    PROJECT,
    Seeded,
    add_ticket,
    jobs_of,
    make_due,
)
from tests.fakes.jira_server import FakeJira
from tests.fakes.zendesk_server import FakeZendesk

ISSUE = r"/rest/api/2/issue"


def escalate(client: TestClient, headers: dict[str, str], theme_id: str) -> tuple[int, dict]:
    response = client.post(f"/api/v1/themes/{theme_id}/escalate", headers=headers)
    return response.status_code, response.json()


def test_escalate_twice_files_one_issue_and_links_theme_and_records(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    zendesk: FakeZendesk,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    first_status, first = escalate(client, admin_headers, seeded.theme_id)
    again_status, again = escalate(client, admin_headers, seeded.theme_id)
    assert (first_status, again_status) == (202, 202)
    assert first["state"] == again["state"] == "queued"
    run_worker()
    status, done = escalate(client, admin_headers, seeded.theme_id)
    assert status == 200 and done["state"] == "created" and done["jira_key"] == f"{PROJECT}-1"
    run_worker()

    assert len(jira.created()) == 1 and list(jira.issues) == [f"{PROJECT}-1"]
    sent = jira.created()[0].json["fields"]
    assert sent["project"] == {"key": PROJECT}
    assert f"relay-theme-{seeded.theme_id}" in sent["labels"]
    assert "area-ewallets" in sent["labels"] and sent["components"] == [{"name": "E-wallets"}]
    assert sent["summary"].startswith("[Relay] ")
    assert "h2. Problem" in sent["description"] and "\\" not in sent["summary"]
    assert jira.requests_to("POST", ISSUE)[0].headers["authorization"].startswith("Basic ")
    with db.session() as session:
        theme = session.get(Theme, seeded.theme_id)
        assert theme is not None and theme.jira_keys == [f"{PROJECT}-1"]
        assert theme.status == "escalated"
        keys = {tuple(r.jira_keys) for r in session.scalars(select(Feedback))}
        assert keys == {(f"{PROJECT}-1",)}
    # Each helpdesk ticket got one internal note naming the key.
    for ticket in seeded.tickets:
        notes = zendesk.notes(ticket)
        assert len(notes) == 1 and f"{PROJECT}-1" in notes[0]["body"]
        assert notes[0]["public"] is False


def test_jira_down_is_retried_and_creates_exactly_once_when_it_recovers(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    jira.fail("POST", ISSUE, times=2, status=500)
    jira.fail("GET", r"/rest/api/2/search/jql", times=1, status=503)
    escalate(client, admin_headers, seeded.theme_id)
    for _ in range(3):  # search fails, then create fails twice
        run_worker()
        [job] = jobs_of(db, "escalation.create")
        assert job.status == EventStatus.PENDING and job.last_error
        make_due(db)
    run_worker()
    [job] = jobs_of(db, "escalation.create")
    assert job.status == EventStatus.HANDLED and job.attempts == 4
    assert len(jira.issues) == 1
    assert len(jira.requests_to("POST", ISSUE)) == 3  # two refused, one created


def test_a_timeout_after_jira_created_the_issue_finds_it_instead_of_filing_another(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    # Jira creates the issue, then answers after the client's 1 s timeout.
    jira.slow("POST", ISSUE, seconds=3, handle_first=True)
    escalate(client, admin_headers, seeded.theme_id)
    run_worker()
    [job] = jobs_of(db, "escalation.create")
    assert job.status == EventStatus.PENDING and "unreachable" in (job.last_error or "")
    assert len(jira.issues) == 1
    make_due(db)
    run_worker()
    assert len(jira.issues) == 1 and len(jira.requests_to("POST", ISSUE)) == 1
    with db.session() as session:
        escalation = session.get(Escalation, seeded.theme_id)
        assert escalation is not None and escalation.jira_key == f"{PROJECT}-1"
        assert escalation.jira_url == f"{jira.url}/browse/{PROJECT}-1"


def test_growth_past_the_merchant_step_comments_instead_of_filing(
    client: TestClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    jira: FakeJira,
    db: Database,
    run_worker: Callable[[], int],
) -> None:
    escalate(client, admin_headers, seeded.theme_id)
    run_worker()
    text = (
        "GCash live payments fail with AMOUNT_EXCEED_LIMIT for a PHP 250 order, pay_5Gh6Jk7Lm8Np9Q."
    )
    add_ticket(client, db, 5104, "9004", "GCash AMOUNT_EXCEED_LIMIT again", text)
    run_worker()
    assert jira.requests_to("POST", r"/rest/api/2/issue/.+/comment") == []  # one more: below step
    add_ticket(client, db, 5105, "9005", "GCash failing AMOUNT_EXCEED_LIMIT", text)
    run_worker()
    comments = jira.requests_to("POST", rf"/rest/api/2/issue/{PROJECT}-1/comment")
    assert len(comments) == 1 and len(jira.issues) == 1
    assert "5 merchants" in comments[0].json["body"]
    with db.session() as session:
        new = session.scalar(select(Feedback).where(Feedback.external_id == "zendesk:5105"))
        assert new is not None and new.jira_keys == [f"{PROJECT}-1"]


def test_escalation_answers_503_when_jira_is_not_configured(
    client: TestClient, admin_headers: dict[str, str], seeded: Seeded
) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(update={"jira_url": None})  # type: ignore[attr-defined]
    status, body = escalate(client, admin_headers, seeded.theme_id)
    assert status == 503 and body["error"]["code"] == "escalation_disabled"


def test_escalating_an_unknown_theme_is_404(
    client: TestClient, admin_headers: dict[str, str], jira: FakeJira
) -> None:
    status, body = escalate(client, admin_headers, "th_missing")
    assert status == 404 and body["error"]["code"] == "theme_not_found"
    assert jira.requests == []

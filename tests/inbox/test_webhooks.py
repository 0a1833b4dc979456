"""Webhooks in, over real HTTP semantics: verify, store, acknowledge, process."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db import Database
from service.feedback.models import Feedback
from service.inbox import service as inbox_service
from service.inbox.models import InboxEvent
from service.inbox.writer import InboxWriter
from tests.conftest import WEBHOOK_SECRETS
from tests.signing import signed, zendesk_event, zendesk_headers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-payloads"

# (source, fixture) -> the external id the record must get after processing.
TICKET_CAPTURES = {
    ("jira", "issue_created.json"): "jira:",
    ("jira", "issue_updated__status.json"): "jira:",
    ("jira", "comment_created.json"): "jira:",
    ("freshdesk", "ticket_created.json"): "freshdesk:",
    ("zendesk", "ticket_create_update.json"): "zendesk:",
    ("intercom", "conversation_user_created.json"): "intercom:",
    ("intercom", "ticket_created.json"): "intercom:",
}


def post(
    client: TestClient, source: str, body: bytes, **extra: str
) -> tuple[int, dict[str, object]]:
    headers = {**signed(source, body, WEBHOOK_SECRETS[source]), **extra}
    response = client.post(f"/webhooks/{source}", content=body, headers=headers)
    return response.status_code, response.json()


def count(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(("source", "fixture"), sorted(TICKET_CAPTURES))
def test_real_capture_is_accepted_and_becomes_a_record(
    client: TestClient, db: Database, run_worker: Callable[[], int], source: str, fixture: str
) -> None:
    body = (FIXTURES / source / fixture).read_bytes()
    status, answer = post(client, source, body, **{"x-atlassian-webhook-identifier": fixture})
    assert status == 202 and answer["duplicate"] is False
    assert run_worker() == 1
    with db.session() as session:
        event = session.get(InboxEvent, answer["id"])
        assert event is not None and event.status == "handled", event and event.last_error
        record = session.scalars(select(Feedback)).one()
    assert record.source == source
    assert record.external_id.startswith(TICKET_CAPTURES[(source, fixture)])
    assert record.subject or record.text


@pytest.mark.parametrize("source", ["zendesk", "jira", "intercom", "freshdesk"])
def test_every_capture_of_a_vendor_is_stored(client: TestClient, db: Database, source: str) -> None:
    files = sorted((FIXTURES / source).glob("*.json"))
    for index, path in enumerate(files):
        status, _ = post(
            client, source, path.read_bytes(), **{"x-atlassian-webhook-identifier": f"id-{index}"}
        )
        assert status == 202, path.name
    assert count(db, InboxEvent) == len({p.read_bytes() for p in files})


def test_unparseable_authentic_event_is_kept_in_quarantine(
    client: TestClient, db: Database, run_worker: Callable[[], int]
) -> None:
    body = (FIXTURES / "jira" / "comment_created_no_issue_details.json").read_bytes()
    status, answer = post(client, "jira", body, **{"x-atlassian-webhook-identifier": "bad-1"})
    assert status == 202
    run_worker()
    with db.session() as session:
        event = session.get(InboxEvent, answer["id"])
        assert event is not None
        assert event.status == "quarantined"
        assert event.last_error
        assert "Leo Franchi" in event.payload or len(event.payload) > 100


def test_ping_is_acknowledged_and_makes_no_record(
    client: TestClient, db: Database, run_worker: Callable[[], int]
) -> None:
    status, _ = post(client, "intercom", (FIXTURES / "intercom" / "ping.json").read_bytes())
    assert status == 202
    run_worker()
    assert count(db, Feedback) == 0
    with db.session() as session:
        assert session.scalars(select(InboxEvent.status)).one() == "handled"


@pytest.mark.parametrize("source", ["zendesk", "jira", "intercom", "freshdesk"])
def test_wrong_or_missing_signature_is_401_and_stores_nothing(
    client: TestClient, db: Database, source: str
) -> None:
    body = json.dumps({"id": "x", "topic": "conversation.user.created"}).encode()
    wrong = client.post(f"/webhooks/{source}", content=body, headers=signed(source, body, "nope"))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_signature"
    missing = client.post(
        f"/webhooks/{source}", content=body, headers={"content-type": "application/json"}
    )
    assert missing.status_code == 401
    assert count(db, InboxEvent) == 0


@pytest.mark.parametrize("source", ["zendesk", "jira", "intercom"])
def test_tampered_body_is_401(client: TestClient, db: Database, source: str) -> None:
    body = json.dumps({"id": "x", "topic": "conversation.user.created"}).encode()
    headers = signed(source, body, WEBHOOK_SECRETS[source])
    response = client.post(f"/webhooks/{source}", content=body.replace(b"x", b"y"), headers=headers)
    assert response.status_code == 401
    assert count(db, InboxEvent) == 0


def test_stale_zendesk_timestamp_is_401(client: TestClient, db: Database) -> None:
    body = zendesk_event("created", ticket_id=1, event_id="e1", time="2026-01-01T00:00:00Z")
    old = datetime.now(UTC) - timedelta(minutes=10)
    response = client.post(
        "/webhooks/zendesk",
        content=body,
        headers=zendesk_headers(body, WEBHOOK_SECRETS["zendesk"], at=old),
    )
    assert response.status_code == 401
    assert count(db, InboxEvent) == 0


def test_duplicate_delivery_is_200_and_one_record(
    client: TestClient, db: Database, run_worker: Callable[[], int]
) -> None:
    body = zendesk_event("created", ticket_id=77, event_id="ev-77", time="2026-11-01T10:00:00Z")
    first = post(client, "zendesk", body)
    second = post(client, "zendesk", body)
    assert first[0] == 202 and second[0] == 200
    assert second[1] == {"id": first[1]["id"], "duplicate": True}
    run_worker()
    assert count(db, InboxEvent) == 1 and count(db, Feedback) == 1


def test_body_over_one_mebibyte_is_413(client: TestClient, db: Database) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    status, answer = post(client, "jira", body)
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    assert count(db, InboxEvent) == 0


def test_not_json_is_415(client: TestClient) -> None:
    body = b"ticket=1"
    headers = {
        **signed("jira", body, WEBHOOK_SECRETS["jira"]),
        "content-type": "application/x-www-form-urlencoded",
    }
    assert client.post("/webhooks/jira", content=body, headers=headers).status_code == 415


def test_unconfigured_source_is_503(app: FastAPI, client: TestClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"jira_webhook_secret": None})
    status, answer = post(client, "jira", b"{}")
    assert status == 503 and answer["error"]["code"] == "source_not_configured"


def test_unknown_source_is_404(client: TestClient) -> None:
    assert client.post("/webhooks/github", content=b"{}").status_code == 404


def test_storage_unavailable_is_503_never_202(
    app: FastAPI, client: TestClient, db: Database
) -> None:
    # A real database that cannot be reached: nothing listens on port 1.
    unreachable = Database("postgresql+psycopg://relay@127.0.0.1:1/relay?connect_timeout=2")
    app.state.inbox_writer = InboxWriter(unreachable)
    try:
        body = zendesk_event("created", ticket_id=5, event_id="e5", time="2026-11-01T10:00:00Z")
        status, answer = post(client, "zendesk", body)
    finally:
        app.state.inbox_writer.close()
        unreachable.dispose()
    assert status == 503 and answer["error"]["code"] == "storage_unavailable"
    assert count(db, InboxEvent) == 0


def test_metrics_count_outcomes_per_source(client: TestClient) -> None:
    body = zendesk_event("created", ticket_id=9, event_id="e9", time="2026-11-01T10:00:00Z")
    post(client, "zendesk", body)
    post(client, "zendesk", body)
    client.post("/webhooks/zendesk", content=body, headers=signed("zendesk", body, "wrong"))
    text = client.get("/metrics").text
    for outcome in ("accepted", "duplicate", "rejected"):
        assert f'relay_webhook_deliveries_total{{outcome="{outcome}",source="zendesk"}}' in text


def test_webhook_fast_path_keeps_the_route_in_the_schema_and_its_metrics(
    client: TestClient,
) -> None:
    body = zendesk_event("created", ticket_id=11, event_id="e11", time="2026-11-01T10:00:00Z")
    assert post(client, "zendesk", body)[0] == 202
    assert "/webhooks/{source}" in client.get("/openapi.json").json()["paths"]
    # Latency is labelled with the route template, as for every routed request.
    assert 'route="/webhooks/{source}"' in client.get("/metrics").text


def test_webhook_fast_path_sends_a_request_id_and_answers_a_failure_in_relay_shape(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = zendesk_event("created", ticket_id=12, event_id="e12", time="2026-11-01T10:00:00Z")
    headers = signed("zendesk", body, WEBHOOK_SECRETS["zendesk"])
    answered = client.post("/webhooks/zendesk", content=body, headers=headers)
    assert answered.status_code == 202 and answered.headers["x-request-id"]
    given = client.post(
        "/webhooks/zendesk", content=body, headers={**headers, "X-Request-ID": "vendor-42"}
    )
    assert given.headers["x-request-id"] == "vendor-42"

    def broken(*_args: object) -> object:
        raise RuntimeError("a bug in reading the delivery")

    # A bug (not storage being down, which is a 503) is a 500 in the contract's error shape.
    monkeypatch.setattr(inbox_service, "received_event", broken)
    other = zendesk_event("created", ticket_id=13, event_id="e13", time="2026-11-01T10:00:00Z")
    failed = client.post(
        "/webhooks/zendesk",
        content=other,
        headers=signed("zendesk", other, WEBHOOK_SECRETS["zendesk"]),
    )
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error" and failed.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/webhooks/zendesk", 405), ("POST", "/webhooks/zendesk/extra", 404)],
)
def test_other_webhook_shaped_requests_go_through_the_router(
    client: TestClient, method: str, path: str, status: int
) -> None:
    assert client.request(method, path).status_code == status

"""Operators: list, inspect and replay events by API and CLI; health endpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings, get_settings
from tests.conftest import WEBHOOK_SECRETS
from tests.signing import signed

BROKEN = (
    Path(__file__).resolve().parents[1]
    / "fixtures/real-payloads/jira/comment_created_no_issue_details.json"
)


def quarantine_one(client: TestClient, run_worker: Callable[[], int]) -> str:
    body = BROKEN.read_bytes()
    headers = {
        **signed("jira", body, WEBHOOK_SECRETS["jira"]),
        "x-atlassian-webhook-identifier": "q1",
    }
    event_id: str = client.post("/webhooks/jira", content=body, headers=headers).json()["id"]
    run_worker()
    return event_id


def test_admin_lists_and_replays_quarantined_events(
    client: TestClient, admin_headers: dict[str, str], run_worker: Callable[[], int]
) -> None:
    event_id = quarantine_one(client, run_worker)
    listed = client.get("/api/v1/admin/events?status=quarantined", headers=admin_headers).json()
    assert [e["id"] for e in listed] == [event_id]
    detail = client.get(f"/api/v1/admin/events/{event_id}", headers=admin_headers).json()
    assert detail["last_error"] and detail["payload"]
    replay = client.post(
        "/api/v1/admin/events/replay", json={"ids": [event_id]}, headers=admin_headers
    )
    assert replay.json() == {"replayed": [event_id]}
    run_worker()
    again = client.get(f"/api/v1/admin/events/{event_id}", headers=admin_headers).json()
    assert again["status"] == "quarantined" and again["attempts"] == 1


def test_admin_events_need_the_admin_scope(client: TestClient) -> None:
    assert client.get("/api/v1/admin/events").status_code == 401


def test_cli_lists_and_replays(
    client: TestClient,
    settings: Settings,
    run_worker: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event_id = quarantine_one(client, run_worker)
    monkeypatch.setenv("RELAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(cli, ["events", "list", "--status", "quarantined"])
        assert listed.exit_code == 0 and event_id in listed.output
        replayed = runner.invoke(cli, ["events", "replay", "--status", "quarantined"])
        assert replayed.exit_code == 0 and "replayed 1 event" in replayed.output
        refused = runner.invoke(cli, ["events", "replay"])
        assert refused.exit_code != 0
    finally:
        get_settings.cache_clear()


def test_health_readiness_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert "relay_http_request_seconds" in client.get("/metrics").text
    assert client.get("/healthz").headers["x-request-id"]

"""Delivery end to end: a webhook in, a signed event out, retries, the log, disabling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook

from service.config import Settings
from service.db import Database
from service.inbox.models import InboxEvent
from service.outbound import service as outbound_service
from tests.conftest import WEBHOOK_SECRETS
from tests.outbound.conftest import Subscriber, subscribe
from tests.signing import signed, zendesk_event

API = "/api/v1/subscriptions"


def post_ticket(client: TestClient, ticket_id: int, event_id: str, minute: int = 0) -> None:
    body = zendesk_event(
        "created" if minute == 0 else "status_changed",
        ticket_id=ticket_id,
        event_id=event_id,
        time=f"2026-11-02T01:{minute:02d}:00Z",
    )
    response = client.post(
        "/webhooks/zendesk",
        content=body,
        headers=signed("zendesk", body, WEBHOOK_SECRETS["zendesk"]),
    )
    assert response.status_code == 202, response.text


def log_of(client: TestClient, headers: dict[str, str], sub_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/{sub_id}/deliveries", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def outbound_jobs(db: Database) -> int:
    with db.session() as session:
        query = select(func.count()).where(InboxEvent.task == outbound_service.DELIVER_TASK)
        return int(session.scalar(query) or 0)


def test_events_arrive_signed_and_the_official_library_verifies_them(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    deliver_all: Callable[[], int],
) -> None:
    created = subscribe(client, admin_headers, subscriber.url, "feedback.created", "theme.created")
    post_ticket(client, 7001, "ev-1")
    post_ticket(client, 7001, "ev-2", minute=5)  # an update: no second feedback.created
    deliver_all()
    assert sorted(r.json()["type"] for r in subscriber.received) == [
        "feedback.created",
        "theme.created",
    ]
    webhook = Webhook(created["secret"])
    for request in subscriber.received:
        payload = webhook.verify(request.body, request.headers)
        assert set(payload) == {"type", "timestamp", "data"}
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.path == "/hooks/relay"
    record = subscriber.of_type("feedback.created")[0].json()["data"]
    assert record["external_id"] == "zendesk:7001" and record["id"].startswith("fb_")
    log = log_of(client, admin_headers, created["id"])
    assert {(d["attempt"], d["status_code"], d["outcome"]) for d in log} == {(1, 200, "delivered")}
    assert all(d["succeeded"] and d["duration_ms"] >= 0 for d in log)


def test_no_subscriber_no_job(
    client: TestClient, db: Database, run_worker: Callable[[], int]
) -> None:
    post_ticket(client, 7002, "ev-3")
    run_worker()
    assert outbound_jobs(db) == 0


def test_only_subscribed_types_are_sent(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    deliver_all: Callable[[], int],
) -> None:
    subscribe(client, admin_headers, subscriber.url, "theme.threshold_crossed")
    post_ticket(client, 7003, "ev-4")
    deliver_all()
    assert subscriber.received == []


def test_a_failed_attempt_is_retried_with_the_same_id_and_logged(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    deliver_all: Callable[[], int],
) -> None:
    created = subscribe(client, admin_headers, subscriber.url, "feedback.created")
    subscriber.statuses = [500, 302]  # a redirect is not followed: it is a failure too
    post_ticket(client, 7004, "ev-5")
    deliver_all()
    assert len(subscriber.received) == 3
    assert len({r.headers["webhook-id"] for r in subscriber.received}) == 1
    assert len({r.body for r in subscriber.received}) == 1
    log = sorted(log_of(client, admin_headers, created["id"]), key=lambda d: d["attempt"])
    assert [(d["attempt"], d["status_code"], d["outcome"]) for d in log] == [
        (1, 500, "retry"),
        (2, 302, "retry"),
        (3, 200, "delivered"),
    ]
    assert log[0]["error"] == "HTTP 500"
    state = client.get(f"{API}/{created['id']}", headers=admin_headers).json()
    assert state["consecutive_failures"] == 0 and state["last_success_at"] is not None


def test_give_up_after_max_attempts(
    app: FastAPI,
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    settings: Settings,
    deliver_all: Callable[[], int],
) -> None:
    settings.outbound_max_attempts = 2
    created = subscribe(client, admin_headers, subscriber.url, "feedback.created")
    subscriber.default_status = 503
    post_ticket(client, 7005, "ev-6")
    deliver_all()
    log = sorted(log_of(client, admin_headers, created["id"]), key=lambda d: d["attempt"])
    assert [d["outcome"] for d in log] == ["retry", "gave_up"]
    state = client.get(f"{API}/{created['id']}", headers=admin_headers).json()
    assert state["active"] is True and state["consecutive_failures"] == 2


def test_repeated_failures_disable_the_subscription(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    settings: Settings,
    deliver_all: Callable[[], int],
) -> None:
    settings.outbound_disable_after = 3
    created = subscribe(client, admin_headers, subscriber.url, "feedback.created")
    subscriber.default_status = 500
    for n in range(5):
        post_ticket(client, 7100 + n, f"ev-d{n}")
    deliver_all()
    state = client.get(f"{API}/{created['id']}", headers=admin_headers).json()
    assert state["active"] is False
    assert state["disabled_reason"].startswith("3 consecutive failed deliveries; last: HTTP 500")
    log = log_of(client, admin_headers, created["id"])
    outcomes = [d["outcome"] for d in reversed(log)]
    # The third failure disables it. Messages of the same batch may already have been sent
    # (the worker sends a batch before recording it): logged, never retried.
    assert outcomes[:3] == ["retry", "retry", "disabled"]
    assert set(outcomes[3:]) <= {"disabled"}
    assert len(subscriber.received) == len(log)  # nothing sent goes unlogged
    assert len(log) <= 5
    sent_before = len(subscriber.received)
    # Re-enabled, new events flow again.
    subscriber.default_status = 200
    client.post(f"{API}/{created['id']}/enable", headers=admin_headers)
    post_ticket(client, 7200, "ev-d9")
    deliver_all()
    assert len(subscriber.received) == sent_before + 1


def test_a_target_that_became_private_is_refused_at_delivery(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    settings: Settings,
    deliver_all: Callable[[], int],
) -> None:
    created = subscribe(client, admin_headers, subscriber.url, "feedback.created")
    settings.outbound_allow_private = False  # the worker's settings: checked again per attempt
    settings.outbound_max_attempts = 1
    post_ticket(client, 7300, "ev-7")
    deliver_all()
    assert subscriber.received == []
    log = log_of(client, admin_headers, created["id"])
    assert log[0]["status_code"] is None and log[0]["outcome"] == "gave_up"
    assert log[0]["error"].startswith("refused: 127.0.0.1 resolves to a private")


def test_theme_threshold_crossed_once_per_step(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    deliver_all: Callable[[], int],
) -> None:
    subscribe(client, admin_headers, subscriber.url, "theme.created", "theme.threshold_crossed")
    for n in range(4):
        body = {
            "subject": "GCash refunds stuck in processing",
            "body": "Refund for GCash payment stuck in processing for 3 days, error PY0105.",
            "merchant": {"id": f"m-{n}", "name": f"Merchant {n}"},
        }
        response = client.post("/api/v1/feedback", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
    deliver_all()
    created = subscriber.of_type("theme.created")
    crossed = [r.json()["data"] for r in subscriber.of_type("theme.threshold_crossed")]
    assert len(created) == 1
    assert [(c["threshold"], c["merchant_count"]) for c in crossed] == [(3, 3)]
    assert crossed[0]["id"] == created[0].json()["data"]["id"]

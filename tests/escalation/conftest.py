"""Escalation fixtures: fake Jira and Zendesk on loopback, settings pointing at them, and a
theme built the real way (signed Zendesk webhooks through the inbox and the worker)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update

from service.config import Settings
from service.db import Database
from service.feedback import service as feedback_service
from service.feedback.models import Feedback
from service.feedback.schemas import MerchantIn
from service.inbox.models import EventStatus, InboxEvent
from tests.conftest import WEBHOOK_SECRETS
from tests.fakes.jira_server import FakeJira
from tests.fakes.zendesk_server import FakeZendesk
from tests.signing import jira_headers, zendesk_event, zendesk_headers

PROJECT = "PAY"
# Three merchants hitting the same GCash failure: one theme.
GCASH_TICKETS = [
    (
        5101,
        "9001",
        "GCash payments failing with AMOUNT_EXCEED_LIMIT",
        "Since this morning our GCash checkout fails in live mode. The payment pay_9Xk2LmNpQr7sTu "
        "for pi_4AbCdEfGhIjKlM shows failed_code AMOUNT_EXCEED_LIMIT even for PHP 500 orders.",
    ),
    (
        5102,
        "9002",
        "GCash AMOUNT_EXCEED_LIMIT on small amounts",
        "Customers paying with GCash get AMOUNT_EXCEED_LIMIT in live mode for a PHP 300 order, "
        "payment pay_7Hj3KlMnOpQrSt. GCash checkout keeps failing.",
    ),
    (
        5103,
        "9003",
        "GCash checkout failing: AMOUNT_EXCEED_LIMIT",
        "Our live GCash payments fail with AMOUNT_EXCEED_LIMIT although the amount is small. "
        "Example pi_8ZyXwVuTsRqPoN, evt_1QaZwSxEdCrFvT.",
    ),
]


@dataclass(frozen=True)
class Seeded:
    theme_id: str
    record_ids: list[str]
    tickets: list[int]


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as server:
        yield server


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, jira: FakeJira, zendesk: FakeZendesk) -> Settings:
    return settings.model_copy(
        update={
            "jira_url": jira.url,
            "jira_email": "relay-bot@example.com",
            "jira_api_token": SecretStr("jira-token"),
            "jira_project": PROJECT,
            "jira_timeout_seconds": 1.0,
            "zendesk_url": zendesk.url,
            "zendesk_email": "relay-bot@example.com",
            "zendesk_api_token": SecretStr("zendesk-token"),
            "zendesk_timeout_seconds": 1.0,
            "escalation_comment_merchant_step": 2,
            # Retries happen when a test says time has passed (make_due), never by accident.
            "worker_backoff_base_seconds": 30.0,
        }
    )


def post_zendesk(client: TestClient, body: bytes) -> None:
    headers = zendesk_headers(body, WEBHOOK_SECRETS["zendesk"])
    response = client.post("/webhooks/zendesk", content=body, headers=headers)
    assert response.status_code in (200, 202), response.text


def post_jira(client: TestClient, body: dict[str, object], *, identifier: str) -> None:
    raw = json.dumps(body).encode()
    headers = jira_headers(raw, WEBHOOK_SECRETS["jira"], identifier=identifier)
    response = client.post("/webhooks/jira", content=raw, headers=headers)
    assert response.status_code in (200, 202), response.text


def add_ticket(
    client: TestClient, db: Database, number: int, org: str, subject: str, text: str
) -> None:
    with db.session() as session:
        feedback_service.upsert_merchant(
            session,
            merchant=MerchantIn(
                id=f"zendesk-org:{org}", name=f"Merchant {org}", monthly_tpv_php=5_000_000
            ),
        )
    stamp = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = zendesk_event(
        "created",
        ticket_id=number,
        event_id=f"evt-{number}",
        time=stamp,
        subject=subject,
        description=text,
        organization_id=org,
    )
    post_zendesk(client, body)


@pytest.fixture
def seeded(client: TestClient, db: Database, run_worker: Callable[[], int]) -> Seeded:
    """Three Zendesk tickets from three merchants, processed into one theme."""
    for number, org, subject, text in GCASH_TICKETS:
        add_ticket(client, db, number, org, subject, text)
    run_worker()
    with db.session() as session:
        records = list(session.scalars(select(Feedback).order_by(Feedback.external_id)))
    themes = {r.theme_id for r in records}
    assert len(records) == 3 and len(themes) == 1, themes
    theme_id = themes.pop()
    assert theme_id is not None
    return Seeded(theme_id=theme_id, record_ids=[r.id for r in records], tickets=[5101, 5102, 5103])


def make_due(db: Database) -> None:
    """Let time pass for the retry schedule: every pending event is due now."""
    with db.session() as session:
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.status == EventStatus.PENDING)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def jobs_of(db: Database, task: str) -> list[InboxEvent]:
    with db.session() as session:
        rows = list(session.scalars(select(InboxEvent).where(InboxEvent.task == task)))
        session.expunge_all()
        return rows

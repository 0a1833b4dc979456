"""The delivery job in the worker: sent before the write transaction, recorded in it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.config import Settings
from service.db import Database
from service.inbox.models import EventStatus, InboxEvent
from service.outbound import service as outbound_service
from service.outbound.models import Delivery
from service.outbound.tasks import prepare_deliveries
from service.worker.context import running_with
from service.worker.runner import Worker, claim_due
from tests.outbound.conftest import Subscriber, subscribe


def _emit(db: Database, key: str) -> None:
    with db.session() as session:
        outbound_service.emit(
            session, event_type="faq.published", key=key, data={"id": "faq_1", "version": 2}
        )


def test_emit_is_idempotent_by_key_per_subscription(
    client: TestClient, admin_headers: dict[str, str], subscriber: Subscriber, db: Database
) -> None:
    subscribe(client, admin_headers, subscriber.url, "faq.published")
    subscribe(client, admin_headers, subscriber.url + "?second", "faq.published")
    for _ in range(3):
        _emit(db, "faq.published:faq_1:v2")
    _emit(db, "faq.published:faq_1:v3")
    with db.session() as session:
        jobs = session.scalar(
            select(func.count()).where(InboxEvent.task == outbound_service.DELIVER_TASK)
        )
    assert jobs == 4  # two subscriptions x two distinct keys


def test_the_preparer_sends_and_the_handler_only_records(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    db: Database,
    settings: Settings,
) -> None:
    subscribe(client, admin_headers, subscriber.url, "faq.published")
    _emit(db, "faq.published:faq_1:v2")
    worker = Worker(db, settings)
    with db.session() as session:
        claims = claim_due(session, worker=worker.name, limit=10, lease_seconds=60)
    assert len(claims) == 1
    with db.read_session() as session, running_with(settings):
        prepare_deliveries(session, list(session.scalars(select(InboxEvent))))
    assert len(subscriber.received) == 1  # sent outside any write transaction
    worker.process(claims[0])
    assert len(subscriber.received) == 1  # the handler used that outcome: not sent twice
    with db.session() as session:
        job = session.scalars(select(InboxEvent)).one()
        log = session.scalars(select(Delivery)).one()
        assert job.status == EventStatus.HANDLED and job.result is not None
        assert (log.attempt, log.status_code, log.outcome) == (1, 200, "delivered")


def test_a_disabled_subscription_gets_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    subscriber: Subscriber,
    db: Database,
    settings: Settings,
) -> None:
    created = subscribe(client, admin_headers, subscriber.url, "faq.published")
    _emit(db, "faq.published:faq_1:v2")
    client.post(f"/api/v1/subscriptions/{created['id']}/disable", headers=admin_headers)
    _emit(db, "faq.published:faq_1:v3")  # not even enqueued
    Worker(db, settings).run_once()
    assert subscriber.received == []
    with db.session() as session:
        results = list(session.scalars(select(InboxEvent.result)))
    assert results == ["skipped: the subscription is disabled"]

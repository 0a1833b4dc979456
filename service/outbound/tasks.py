"""Worker handlers of the outbound domain: deliver one message to one subscriber.

The HTTP call happens in the batch preparer, before the worker's write transaction: on
SQLite that transaction holds the one writer lock, and a slow subscriber must not hold up
webhook acknowledgements. The handler then only records the outcome (delivery log,
failure count, the next attempt). A message the preparer did not get to (or a worker that
died between the two) is sent by the handler itself, so delivery is at least once;
subscribers deduplicate on `webhook-id`, which is the same on every attempt.

A failed attempt is not raised: the runner would roll back the delivery log and the
failure count with it. Instead the handler enqueues the next attempt as its own job, due
after the worker's backoff, up to `outbound_max_attempts`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session

from service.config import Settings
from service.inbox.models import InboxEvent
from service.outbound import delivery
from service.outbound import service as outbound_service
from service.outbound.models import Subscription
from service.worker import jobs
from service.worker.context import worker_settings
from service.worker.registry import preparer, task

# Outcomes of deliveries made by the preparer, by (job id, attempt), for the handler.
_sent: dict[tuple[str, int], delivery.Outcome] = {}
_sent_lock = threading.Lock()
_MAX_REMEMBERED = 10_000


def _message(subscription: Subscription, job: dict[str, Any]) -> delivery.Message:
    return delivery.Message(
        url=subscription.url,
        secret=subscription.secret,
        message_id=job["message_id"],
        body=job["body"].encode(),
    )


def _send(subscription: Subscription, job: dict[str, Any], settings: Settings) -> delivery.Outcome:
    return delivery.send(
        _message(subscription, job),
        timeout=settings.outbound_timeout_seconds,
        allow_private=settings.outbound_allow_private,
    )


@preparer(outbound_service.DELIVER_TASK)
def prepare_deliveries(session: Session, events: Sequence[InboxEvent]) -> None:
    """Send the batch's messages concurrently, outside the write transaction."""
    try:
        settings = worker_settings()
    except RuntimeError:
        return  # a runner that prepares without its settings: the handler sends instead
    work = []
    for event in events:
        job = jobs.payload_of(event)
        subscription = session.get(Subscription, job["subscription_id"])
        if subscription is not None and subscription.active:
            work.append((event.id, event.attempts, subscription, job))
    # Stop starting deliveries well before the claims' lease runs out; the handler
    # sends whatever is left.
    deadline = time.monotonic() + settings.worker_lease_seconds / 3

    def run(item: tuple[str, int, Subscription, dict[str, Any]]) -> None:
        if time.monotonic() < deadline:
            _remember((item[0], item[1]), _send(item[2], item[3], settings))

    with ThreadPoolExecutor(max_workers=settings.outbound_concurrency) as pool:
        list(pool.map(run, work))


def _remember(key: tuple[str, int], outcome: delivery.Outcome) -> None:
    with _sent_lock:
        if len(_sent) >= _MAX_REMEMBERED:
            _sent.clear()  # only a cache: forgotten outcomes are simply sent again
        _sent[key] = outcome


def _take(key: tuple[str, int]) -> delivery.Outcome | None:
    with _sent_lock:
        return _sent.pop(key, None)


@task(outbound_service.DELIVER_TASK)
def deliver(session: Session, event: InboxEvent) -> str:
    """Record (or make) one delivery attempt, and schedule what follows."""
    settings = worker_settings()
    job = jobs.payload_of(event)
    subscription = session.get(Subscription, job["subscription_id"])
    outcome = _take((event.id, event.attempts))
    if subscription is None:
        return "dropped: the subscription was deleted"
    if outcome is None:
        if not subscription.active:
            return "skipped: the subscription is disabled"
        outcome = _send(subscription, job, settings)
    # An outcome already in hand was sent (perhaps just before an earlier message of the
    # same batch disabled the subscription): it goes in the log all the same.
    return outbound_service.record(
        session, subscription=subscription, job=job, outcome=outcome, settings=settings
    )

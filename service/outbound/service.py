"""Outbound events for other systems (subscriptions, Standard Webhooks delivery).

Domains call `emit` in their own transaction when something subscribers care about
happens: one delivery job per active subscription to that event type is enqueued in the
same transaction (so it exists exactly when the change commits), and the worker delivers
it (tasks.py). With no subscriber for a type, `emit` costs a dictionary lookup: which
types have subscribers is cached per process for a few seconds (CACHE_SECONDS), and
forgotten at once when this process changes a subscription.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import new_id, utcnow
from service.errors import InvalidRequest, NotFound
from service.outbound import signing, targets
from service.outbound.delivery import Outcome
from service.outbound.models import Delivery, Subscription
from service.worker import jobs
from service.worker.runner import backoff_seconds

EVENT_TYPES = (
    "feedback.created",
    "theme.created",
    "theme.threshold_crossed",
    "theme.status_changed",
    "faq.published",
    "brief.ready",
)
DELIVER_TASK = "outbound.deliver"
# Distinct merchants a theme must reach for `theme.threshold_crossed` (each step once).
THEME_MERCHANT_STEPS = (3, 5, 10, 25, 50, 100)
# How stale another process's new subscription may be before this process emits to it.
CACHE_SECONDS = 5.0
_CHANGED = "outbound_subscriptions_changed"


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


# ---------------------------------------------------------------- emit


def wanted(session: Session, event_type: str) -> bool:
    """Whether any subscription may want `event_type` (cached: cheap to ask per record, to
    skip building an event's data that `emit` would drop)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbound event type {event_type!r}")
    return event_type in _subscribed_types(session)


def emit(session: Session, *, event_type: str, key: str, data: dict[str, Any]) -> None:
    """Record that `event_type` happened (idempotent by `key`) for delivery to subscribers."""
    if not wanted(session, event_type):
        return
    subscribers = [s for s in _active(session) if event_type in s.event_types]
    if not subscribers:
        return
    body = encode_body(event_type, data, at=utcnow())
    for subscription in subscribers:
        message_id = _message_id(subscription.id, key)
        jobs.enqueue(
            session,
            task=DELIVER_TASK,
            key=_first_key(subscription.id, key),
            payload=_job(subscription.id, message_id, event_type, body, attempt=1),
        )


def crossed_steps(
    before: int, after: int, steps: Iterable[int] = THEME_MERCHANT_STEPS
) -> list[int]:
    """The steps a count passed on its way up from `before` to `after`."""
    return [step for step in steps if before < step <= after]


def encode_body(event_type: str, data: dict[str, Any], *, at: datetime) -> str:
    """The Standard Webhooks payload `{"type", "timestamp", "data"}` as sent (compact JSON)."""
    payload = {"type": event_type, "timestamp": _iso(at), "data": data}
    return json.dumps(payload, separators=(",", ":"), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    return str(value)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _message_id(subscription_id: str, key: str) -> str:
    # Stable: the same event for the same subscriber is the same `webhook-id`, retries too.
    return "msg_" + hashlib.sha256(f"{subscription_id}:{key}".encode()).hexdigest()[:32]


def _first_key(subscription_id: str, key: str) -> str:
    # Job keys are cut at 200 characters; a long key is hashed so two never collide.
    if len(key) > 150:
        key = "#" + hashlib.sha256(key.encode()).hexdigest()
    return f"out:{subscription_id}:{key}"


def _job(
    subscription_id: str, message_id: str, event_type: str, body: str, *, attempt: int
) -> dict[str, Any]:
    return {
        "subscription_id": subscription_id,
        "message_id": message_id,
        "event_type": event_type,
        "body": body,
        "attempt": attempt,
    }


def _active(session: Session) -> list[Subscription]:
    query = select(Subscription).where(Subscription.active.is_(True))
    return list(session.scalars(query.order_by(Subscription.created_at, Subscription.id)))


class _TypesCache:
    """Event types with at least one active subscriber, per database, for CACHE_SECONDS."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_database: dict[str, tuple[float, frozenset[str]]] = {}

    def get(self, session: Session) -> frozenset[str]:
        database = _database(session)
        with self.lock:
            found = self.by_database.get(database)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        types = frozenset(t for s in _active(session) for t in s.event_types)
        with self.lock:
            self.by_database[database] = (time.monotonic() + CACHE_SECONDS, types)
        return types

    def forget(self) -> None:
        with self.lock:
            self.by_database.clear()


_types_cache = _TypesCache()
# The database an engine is for, as the cache names it: rendering the URL on every emit
# (every record emits) was a percent of the worker's time.
_DATABASES: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def _database(session: Session) -> str:
    engine = session.get_bind().engine
    database = _DATABASES.get(engine)
    if database is None:
        database = _DATABASES[engine] = str(engine.url)
    return database


def _subscribed_types(session: Session) -> frozenset[str]:
    return _types_cache.get(session)


def _changed(session: Session) -> None:
    # Forget now (this transaction's own emits) and again once committed (everyone's).
    _types_cache.forget()
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _types_cache.forget()


# ---------------------------------------------------------------- subscriptions


def create(
    session: Session,
    *,
    url: str,
    event_types: Sequence[str],
    description: str | None,
    actor: str,
    allow_private: bool,
) -> Subscription:
    """A new active subscription with a fresh `whsec_` secret (readable on the returned row)."""
    check_url(url, allow_private=allow_private)
    now = utcnow()
    subscription = Subscription(
        id=new_id("sub"),
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        secret=signing.new_secret(),
        active=True,
        consecutive_failures=0,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    _changed(session)
    return subscription


def check_url(url: str, *, allow_private: bool) -> None:
    """InvalidRequest naming `url` unless Relay may send there."""
    try:
        targets.resolve(url, allow_private=allow_private)
    except targets.TargetRefused as exc:
        raise InvalidRequest(f"url refused: {exc}", details={"field": "url"}) from exc


def get(session: Session, *, subscription_id: str) -> Subscription:
    """One subscription, or SubscriptionNotFound."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise SubscriptionNotFound(f"no subscription {subscription_id!r}")
    return subscription


def list_all(session: Session) -> list[Subscription]:
    """Every subscription, oldest first."""
    query = select(Subscription).order_by(Subscription.created_at, Subscription.id)
    return list(session.scalars(query))


def delete(session: Session, *, subscription_id: str) -> None:
    """Remove a subscription and its delivery log; its pending deliveries are dropped."""
    session.delete(get(session, subscription_id=subscription_id))
    _changed(session)


def disable(session: Session, *, subscription_id: str, reason: str) -> Subscription:
    """Stop delivering to a subscription (kept, with why, until re-enabled)."""
    subscription = get(session, subscription_id=subscription_id)
    _disable(subscription, reason)
    _changed(session)
    return subscription


def _disable(subscription: Subscription, reason: str) -> None:
    now = utcnow()
    subscription.active, subscription.disabled_reason = False, reason
    subscription.disabled_at, subscription.updated_at = now, now


def enable(session: Session, *, subscription_id: str, allow_private: bool) -> Subscription:
    """Deliver to a subscription again (its URL is checked again); failures start from 0."""
    subscription = get(session, subscription_id=subscription_id)
    check_url(subscription.url, allow_private=allow_private)
    subscription.active, subscription.disabled_reason, subscription.disabled_at = True, None, None
    subscription.consecutive_failures, subscription.updated_at = 0, utcnow()
    _changed(session)
    return subscription


def deliveries(
    session: Session, *, subscription_id: str, limit: int, before: int | None = None
) -> list[Delivery]:
    """The subscription's delivery log, newest first (`before`: a delivery id, for paging)."""
    get(session, subscription_id=subscription_id)
    query = select(Delivery).where(Delivery.subscription_id == subscription_id)
    if before is not None:
        query = query.where(Delivery.id < before)
    return list(session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


# ---------------------------------------------------------------- delivery outcomes


def record(
    session: Session,
    *,
    subscription: Subscription,
    job: dict[str, Any],
    outcome: Outcome,
    settings: Settings,
) -> str:
    """Log one attempt and decide what follows: done, a retry later, give up, or disable."""
    attempt = int(job["attempt"])
    if outcome.succeeded:
        subscription.consecutive_failures, subscription.last_success_at = 0, utcnow()
        next_step = "delivered"
    else:
        next_step = _after_failure(session, subscription, job, outcome, settings)
    session.add(
        Delivery(
            subscription_id=subscription.id,
            message_id=job["message_id"],
            event_type=job["event_type"],
            attempt=attempt,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            succeeded=outcome.succeeded,
            error=outcome.error,
            outcome=next_step,
            created_at=utcnow(),
        )
    )
    result = outcome.error or outcome.status_code
    return f"{job['message_id']} attempt {attempt}: {result} -> {next_step}"


def _after_failure(
    session: Session,
    subscription: Subscription,
    job: dict[str, Any],
    outcome: Outcome,
    settings: Settings,
) -> str:
    failures = _count_failure(session, subscription)
    if not subscription.active:
        return "disabled"  # disabled meanwhile: no retry
    if failures >= settings.outbound_disable_after:
        _disable(subscription, f"{failures} consecutive failed deliveries; last: {outcome.error}")
        _changed(session)
        return "disabled"
    attempt = int(job["attempt"])
    if attempt >= settings.outbound_max_attempts:
        return "gave_up"
    retry = jobs.enqueue(
        session,
        task=DELIVER_TASK,
        key=f"out:{subscription.id}:{job['message_id']}:{attempt + 1}",
        payload={**job, "attempt": attempt + 1},
    )
    retry.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(settings, attempt))
    return "retry"


def _count_failure(session: Session, subscription: Subscription) -> int:
    # In SQL, so that concurrent workers (PostgreSQL) never lose a count.
    count = session.execute(
        update(Subscription)
        .where(Subscription.id == subscription.id)
        .values(consecutive_failures=Subscription.consecutive_failures + 1)
        .returning(Subscription.consecutive_failures)
    ).scalar_one()
    subscription.consecutive_failures = count
    return int(count)

"""Outbound events for other systems (subscriptions, Standard Webhooks delivery).

Domains call `emit` in their own transaction when something subscribers care about
happens; delivery is the worker's job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

EVENT_TYPES = (
    "feedback.created",
    "theme.created",
    "theme.threshold_crossed",
    "theme.status_changed",
    "faq.published",
    "brief.ready",
)


def emit(session: Session, *, event_type: str, key: str, data: dict[str, Any]) -> None:
    """Record that `event_type` happened (idempotent by `key`) for delivery to subscribers."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbound event type {event_type!r}")
    # Delivery lands with the outbound-events work; until then nothing subscribes.
    del session, key, data

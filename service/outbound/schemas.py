"""Subscriptions API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.outbound.service import EVENT_TYPES

EventType = Literal[
    "feedback.created",
    "theme.created",
    "theme.threshold_crossed",
    "theme.status_changed",
    "faq.published",
    "brief.ready",
]


class SubscriptionIn(BaseModel):
    """A subscriber: where to POST, and which event types."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="http(s) URL of the receiver")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=300)


class SubscriptionOut(BaseModel):
    """A subscription as listed (never with its secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    last_success_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    """The answer to a creation: the only time the signing secret is shown."""

    secret: str = Field(description="whsec_ signing secret; shown once, store it now")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class DeliveryOut(BaseModel):
    """One delivery attempt in the log."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str
    event_type: str
    attempt: int
    status_code: int | None
    duration_ms: int
    succeeded: bool
    error: str | None
    outcome: str
    created_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_before: int | None = Field(description="pass as `before` for the next (older) page")

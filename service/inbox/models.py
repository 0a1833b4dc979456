"""The inbox: every authentic webhook delivery, stored (redacted) before it is acknowledged.

The row is also the job: the worker claims due rows, handles them, and records the outcome.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, utcnow


class EventStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    PROCESSING = "processing"  # claimed; lease_until says until when
    HANDLED = "handled"
    QUARANTINED = "quarantined"  # parked with its reason; `relay events replay` puts it back


class InboxEvent(Base):
    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source", "delivery_key"),
        # The worker's claim reads due events in this order and stops at its batch size.
        Index("ix_inbox_events_due", "status", "next_attempt_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    delivery_key: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(60))  # handler name, e.g. "ingest.zendesk"
    payload: Mapped[str] = mapped_column(Text)  # the raw body, redacted
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # Facts derived before redaction (e.g. key modes seen) that redaction would erase.
    hints: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(String(200), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

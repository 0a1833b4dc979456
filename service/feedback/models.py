"""Feedback records (one per helpdesk ticket, Jira issue or API submission) and merchants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, JSONType, UTCDateTime, utcnow


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    segment: Mapped[str | None] = mapped_column(String(40), nullable=True)
    monthly_tpv_php: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_feedback_created", "created_at", "id"),
        Index("ix_feedback_updated", "updated_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    merchant_id: Mapped[str | None] = mapped_column(
        ForeignKey("merchants.id"), nullable=True, index=True
    )
    # Declared so the unit of work inserts a new merchant before the record that names it.
    merchant: Mapped[Merchant | None] = relationship(lazy="select")
    merchant_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    merchant_segment: Mapped[str | None] = mapped_column(String(40), nullable=True)
    requester: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")  # redacted
    text: Mapped[str] = mapped_column(Text, default="")  # redacted: description + merchant comments
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    ticket_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    priority: Mapped[str | None] = mapped_column(String(20), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)

    product_area: Mapped[str] = mapped_column(String(40), default="other", index=True)
    payment_method: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    category: Mapped[str] = mapped_column(String(30), default="how_to", index=True)
    severity: Mapped[str] = mapped_column(String(10), default="low")
    error_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    http_statuses: Mapped[list[int]] = mapped_column(JSONType, default=list)
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    resource_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    environment: Mapped[str] = mapped_column(String(10), default="unknown")
    confidence: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict)
    labelled_by: Mapped[str | None] = mapped_column(String(60), nullable=True)  # model version
    corrected: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # human labels
    environment_hints: Mapped[list[str]] = mapped_column(JSONType, default=list)

    theme_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    theme_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    jira_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    jira: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # new/open/pending/solved/...
    deleted: Mapped[bool] = mapped_column(default=False)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Ordering key of the newest snapshot applied: "<iso timestamp>|<delivery id>", so
    # that equal timestamps still resolve the same way whatever the arrival order.
    source_version: Mapped[str] = mapped_column(String(120), default="")
    # Per snapshot field, the version of the event that last set it: a field takes
    # the value of the newest event that mentions it, whatever the arrival order.
    field_versions: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)

    def last_agent_reply(self) -> str | None:
        """The agent's last public reply: on a solved ticket, the answer that solved it."""
        replies = [
            c["body"]
            for c in self.comments or ()
            if c.get("public") and c.get("author_role") == "agent" and c.get("body")
        ]
        return str(replies[-1]) if replies else None

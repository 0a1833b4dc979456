"""Themes (recurring problems), which record belongs to which, and the people's decisions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, JSONType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.feedback.models import Feedback


class ThemeStatus(StrEnum):
    NEW = "new"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    FIX_PLANNED = "fix_planned"
    FIXED = "fixed"
    WONT_FIX = "wont_fix"


class FixType(StrEnum):
    DOCS = "docs"
    PRODUCT = "product"
    MERCHANT_CONFIG = "merchant_config"
    TOOLING = "tooling"


class Theme(Base):
    __tablename__ = "themes"
    __table_args__ = (
        Index("ix_themes_rank", "rank_score", "id"),
        # One live theme per known theme (merged-away themes keep pointing elsewhere).
        Index(
            "uq_themes_known_key_live",
            "known_key",
            unique=True,
            sqlite_where=text("merged_into IS NULL"),
            postgresql_where=text("merged_into IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    renamed_by_person: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=ThemeStatus.NEW.value, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    # The dominant labels of the members, and the error codes they quote (most quoted first).
    product_area: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    payment_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    category: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    error_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Matching data (see similarity.Profile): counts of member fields, and the centroid sum.
    # Deferred: the matching cache holds them; only a cache refresh reads them.
    signature: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, deferred=True)
    # Packed weights (similarity.pack_weights).
    centroid: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, deferred=True)

    record_count: Mapped[int] = mapped_column(Integer, default=0)
    merchant_count: Mapped[int] = mapped_column(Integer, default=0)
    tpv_at_risk_php: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Records per UTC day over the last weeks: trend and sparklines without a query.
    daily_counts: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    last_7d: Mapped[int] = mapped_column(Integer, default=0)
    previous_7d: Mapped[int] = mapped_column(Integer, default=0)
    trend: Mapped[float] = mapped_column(Float, default=0.0)
    weekly_rate: Mapped[float] = mapped_column(Float, default=0.0)
    max_severity: Mapped[str] = mapped_column(String(10), default="low")
    rank_score: Mapped[float] = mapped_column(Float, default=0.0)
    jira_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)

    fix_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    fix_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fix_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    fix_suggested: Mapped[str | None] = mapped_column(Text, nullable=True)

    merged_into: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    # The known theme (labelled corpus key, see known.py) whose recognised records join here.
    known_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Bumped on every change to the matching data: other processes refresh their cache by it.
    version: Mapped[int] = mapped_column(Integer, default=0)


class ThemeMembership(Base):
    """One record's place in one theme, and why it is there."""

    __tablename__ = "theme_memberships"
    __table_args__ = (
        Index("ix_theme_memberships_merchant", "theme_id", "merchant_id"),
        Index("ix_theme_memberships_by_merchant", "merchant_id", "theme_id"),
    )

    feedback_id: Mapped[str] = mapped_column(
        ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True
    )
    theme_id: Mapped[str] = mapped_column(ForeignKey("themes.id"), index=True)
    merchant_id: Mapped[str | None] = mapped_column(String(120), nullable=True)  # counted once
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    pinned: Mapped[bool] = mapped_column(default=False)  # a person put it here: it stays
    # The features the record contributed to the centroid, so that leaving subtracts them
    # (packed weights, similarity.pack_weights).
    vector: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Never loaded (the ids are used); declared so that a transaction flushing a new record,
    # a new theme and the membership joining them together writes them in that order.
    feedback: Mapped[Feedback] = relationship(lazy="raise")
    theme: Mapped[Theme] = relationship(lazy="raise")


class ThemeDecision(Base):
    """A person's merge, split, rename or move; `rebuild` re-applies them in order."""

    __tablename__ = "theme_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # merge / split / rename / move
    theme_id: Mapped[str] = mapped_column(String(40), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

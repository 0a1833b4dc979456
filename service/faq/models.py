"""Tables of the faq domain: entries (one per theme) and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, utcnow


class FaqStatus(StrEnum):
    DRAFT = "draft"  # the current version awaits review
    APPROVED = "approved"  # a cs/admin person approved the current version
    PUBLISHED = "published"  # the approved current version is what readers see
    STALE = "stale"  # the product moved on (fix shipped, sources changed, review too old)


class FaqEntry(Base):
    """One technical FAQ entry; its text lives in versions, its review state here."""

    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # One entry per theme: regenerating a theme's entry adds versions, never entries.
    theme_id: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=FaqStatus.DRAFT.value, index=True)
    product_area: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    payment_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    question: Mapped[str] = mapped_column(String(300), default="")
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    approved_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    stale_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    stale_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The release that fixed the theme's Jira issue (from the escalation domain).
    fix_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    help_center_article_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    help_center_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FaqVersion(Base):
    """One immutable text of an entry: who wrote it, when, from what, and the diff."""

    __tablename__ = "faq_versions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # Markdown sections, without front matter
    kind: Mapped[str] = mapped_column(String(20))  # generated / edited / rewritten
    author: Mapped[str] = mapped_column(String(200))
    diff: Mapped[str] = mapped_column(Text, default="")  # unified diff from the previous one
    change_note: Mapped[str | None] = mapped_column(Text, nullable=True)  # what changed, why
    # Hash of the deterministic draft this version came from: regeneration adds a version
    # only when it changes (an LLM rewrite or a person's edit does not count as a change).
    generated_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Library document id → version relied on, theme facts, record ids: staleness input.
    sources: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

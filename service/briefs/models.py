"""Tables of the briefs domain: one row per brief request, carrying its current version."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, utcnow


class BriefStatus(StrEnum):
    """Stored states. `rendering` is what a queued brief is while a worker holds its job."""

    QUEUED = "queued"
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


class Brief(Base):
    __tablename__ = "briefs"
    __table_args__ = (Index("ix_briefs_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The signed-in user (pages) or the token's user (API); None for a token without one.
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    merchant_name: Mapped[str] = mapped_column(String(300), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # sha256 of the canonical request: the same request by the same owner is one brief.
    request_hash: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=BriefStatus.QUEUED.value, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    recommended_channel: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # sha256 of everything the PDF shows: equal fingerprints share one stored PDF.
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    pdf_path: Mapped[str | None] = mapped_column(String(500), nullable=True)  # under data_dir
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the ready version relied on: {"documents": {id: version}, "faqs": {id: version}}.
    sources: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

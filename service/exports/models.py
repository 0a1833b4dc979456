"""Tables of the exports domain: the audit log of every export."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, utcnow


class ExportStatus(StrEnum):
    STREAMING = "streaming"  # started; rows still unknown
    COMPLETED = "completed"
    ABORTED = "aborted"  # the client went away (or the CLI was interrupted)
    FAILED = "failed"
    NOT_MODIFIED = "not_modified"  # If-None-Match matched: nothing sent


class ExportAudit(Base):
    """Who exported what, when, with which filters, and how many rows left the building."""

    __tablename__ = "export_audits"
    __table_args__ = (Index("ix_export_audits_started", "started_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    resource: Mapped[str] = mapped_column(String(20))  # feedback | themes
    actor: Mapped[str] = mapped_column(
        String(200), index=True
    )  # token:<id>, user:<id>, cli:<os user>
    channel: Mapped[str] = mapped_column(String(10))  # api | cli
    format: Mapped[str] = mapped_column(String(10))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ExportStatus.STREAMING.value)
    # Known only at the end: written at the start as null, updated when the stream ends.
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

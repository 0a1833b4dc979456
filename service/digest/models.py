"""Tables of the digest domain: every generated Product digest (newest is "latest")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, utcnow


class Digest(Base):
    __tablename__ = "digests"
    __table_args__ = (Index("ix_digests_created", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(10))  # week | month
    range_start: Mapped[datetime] = mapped_column(UTCDateTime())
    range_end: Mapped[datetime] = mapped_column(UTCDateTime())  # exclusive
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    html: Mapped[str] = mapped_column(Text)  # the page body, as served at /digests/latest
    # Relative to RELAY_DATA_DIR (digests/<id>.pdf), so a moved data dir keeps working.
    pdf_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The view model's figures (what `?format=json` answers).
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

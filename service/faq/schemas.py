"""Pydantic I/O and view models of the FAQ domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PublishedFaq:
    """A published FAQ entry as other domains (briefs, documents, write-back) use it."""

    id: str
    question: str
    product_area: str | None
    payment_method: str | None
    theme_id: str | None
    markdown: str  # the whole entry, as exported
    resolution: str  # the resolution steps alone (Markdown)
    version: int
    published_at: datetime

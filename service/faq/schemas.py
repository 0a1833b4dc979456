"""Pydantic I/O and view models of the FAQ domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.faq.models import FaqEntry, FaqVersion


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


class FaqVersionOut(BaseModel):
    """One version of an entry: its text, who wrote it, when, and the diff from the last."""

    number: int
    question: str
    body: str
    kind: str
    author: str
    created_at: datetime
    diff: str
    change_note: str | None
    sources: dict[str, Any]

    @classmethod
    def of(cls, version: FaqVersion) -> FaqVersionOut:
        return cls(
            number=version.number,
            question=version.question,
            body=version.body,
            kind=version.kind,
            author=version.author,
            created_at=version.created_at,
            diff=version.diff,
            change_note=version.change_note,
            sources=version.sources,
        )


class FaqOut(BaseModel):
    """An entry's review state (and, in detail views, its current text)."""

    id: str
    theme_id: str | None
    question: str
    status: str
    product_area: str | None
    payment_method: str | None
    current_version: int
    approved_version: int | None
    approved_by: str | None
    reviewed_at: datetime | None
    published_version: int | None
    published_at: datetime | None
    stale_reason: str | None
    fix_version: str | None
    help_center_article_id: str | None
    help_center_url: str | None
    updated_at: datetime

    @classmethod
    def of(cls, entry: FaqEntry) -> FaqOut:
        return cls.model_validate(entry, from_attributes=True)


class FaqDetail(FaqOut):
    body: str
    change_note: str | None
    markdown: str


class FaqList(BaseModel):
    items: list[FaqOut]


class FaqVersionList(BaseModel):
    items: list[FaqVersionOut]


class FaqEdit(BaseModel):
    """A person's edit: the whole question and body (Markdown sections)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=50_000)


class FaqApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1)


class GenerateIn(BaseModel):
    """Which themes to (re)generate; all qualifying themes when omitted."""

    model_config = ConfigDict(extra="forbid")

    theme_ids: list[str] | None = Field(default=None, max_length=500)


class GenerateOut(BaseModel):
    job_id: str
    status: str

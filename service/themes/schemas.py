"""Themes API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.themes.models import FixType, Theme, ThemeMembership, ThemeStatus


class FixOut(BaseModel):
    """The fix proposal: what a person set, and what Relay suggests from the category."""

    type: str | None
    owner: str | None
    text: str | None
    suggested_type: str
    suggested_text: str | None


class ThemeOut(BaseModel):
    id: str
    title: str
    renamed_by_person: bool
    status: str
    status_reason: str | None
    product_area: str | None
    payment_method: str | None
    category: str | None
    error_codes: list[str]
    record_count: int
    merchant_count: int
    tpv_at_risk_php: int
    first_seen: datetime | None
    last_seen: datetime | None
    last_7d: int
    previous_7d: int
    trend: float
    weekly_rate: float
    max_severity: str
    rank_score: float
    jira_keys: list[str]
    fix: FixOut
    merged_into: str | None
    # The known recurring problem (labelled corpus) this theme carries, if any.
    known_key: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, theme: Theme, suggestion: tuple[FixType, str]) -> ThemeOut:
        """The API view of a theme, with the suggested fix alongside the person's."""
        fix = FixOut(
            type=theme.fix_type,
            owner=theme.fix_owner,
            text=theme.fix_text,
            suggested_type=suggestion[0].value,
            suggested_text=suggestion[1],
        )
        fields = {name: getattr(theme, name) for name in cls.model_fields if name != "fix"}
        return cls(**fields, fix=fix)


class MemberOut(BaseModel):
    """One record of a theme, and why it is there."""

    feedback_id: str
    subject: str
    merchant_id: str | None
    merchant_name: str | None
    product_area: str
    category: str
    error_codes: list[str]
    severity: str
    created_at: datetime
    source_created_at: datetime | None
    score: float
    pinned: bool
    reasons: dict[str, Any]

    @classmethod
    def of(cls, membership: ThemeMembership, record: Any) -> MemberOut:
        """A membership joined with its record."""
        return cls(
            feedback_id=record.id,
            subject=record.subject,
            merchant_id=record.merchant_id,
            merchant_name=record.merchant_name,
            product_area=record.product_area,
            category=record.category,
            error_codes=list(record.error_codes),
            severity=record.severity,
            created_at=record.created_at,
            source_created_at=record.source_created_at,
            score=membership.score,
            pinned=membership.pinned,
            reasons=dict(membership.reasons or {}),
        )


class ThemeDetail(ThemeOut):
    members: list[MemberOut]


class ThemeList(BaseModel):
    items: list[ThemeOut]


class MergeIn(BaseModel):
    """Merge the themes named in `theme_ids` into the theme of the URL."""

    model_config = ConfigDict(extra="forbid")

    theme_ids: list[str] = Field(min_length=1, max_length=100)


class SplitIn(BaseModel):
    """Move these records of the theme into a new theme with this title."""

    model_config = ConfigDict(extra="forbid")

    feedback_ids: list[str] = Field(min_length=1, max_length=1000)
    title: str = Field(min_length=1, max_length=300)


class RenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FixType | None = None
    owner: str | None = Field(default=None, max_length=200)
    text: str | None = Field(default=None, max_length=10_000)


class ThemePatch(BaseModel):
    """Change a theme's title, fix proposal or status (any subset)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    fix: FixIn | None = None
    status: ThemeStatus | None = None
    status_reason: str | None = Field(default=None, max_length=2000)


class MoveIn(BaseModel):
    """Put this record in the theme of the URL (pinned there)."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: str = Field(min_length=1, max_length=40)

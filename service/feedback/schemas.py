"""Feedback API shapes (CONTRACT.md "A feedback record")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.structuring.taxonomy import Category, PaymentMethod, ProductArea

Source = Literal["zendesk", "freshdesk", "intercom", "jira", "api"]


class MerchantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=120)
    name: str | None = Field(default=None, max_length=300)
    segment: Literal["smb", "mid_market", "enterprise", "platform"] | None = None
    monthly_tpv_php: int | None = Field(default=None, ge=0)


class FeedbackIn(BaseModel):
    """Feedback submitted directly by a CS agent or a form."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=1000)
    body: str = Field(min_length=1, max_length=200_000)
    merchant: MerchantIn | None = None
    source: Source = "api"
    external_id: str | None = Field(default=None, min_length=1, max_length=200)


class FeedbackPatch(BaseModel):
    """A person's correction of labels; kept, and used to retrain the classifier."""

    model_config = ConfigDict(extra="forbid")

    product_area: ProductArea | None = None
    category: Category | None = None
    payment_method: PaymentMethod | None = None
    theme_id: str | None = None


class StructuredFields(BaseModel):
    """The TAXONOMY.md fields, shared by records and the classify endpoint."""

    model_config = ConfigDict(from_attributes=True)

    product_area: str
    payment_method: str | None
    category: str
    error_codes: list[str]
    http_statuses: list[int]
    event_types: list[str]
    resource_ids: list[str]
    environment: str
    severity: str
    confidence: dict[str, float]


class FeedbackOut(StructuredFields):
    id: str
    source: str
    external_id: str
    external_url: str | None
    merchant_id: str | None
    merchant_name: str | None
    merchant_segment: str | None
    subject: str
    text: str
    labelled_by: str | None
    corrected: dict[str, object]
    theme_id: str | None
    jira_keys: list[str]
    status: str
    priority: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    source_created_at: datetime | None
    source_updated_at: datetime | None


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: str | None

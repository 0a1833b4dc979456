"""Brief request and answer shapes (CONTRACT.md "A brief request")."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from service.structuring.taxonomy import PAYMENT_METHODS

Segment = Literal["smb", "mid_market", "enterprise", "platform"]
Channel = Literal["payment_intents_api", "checkout", "links", "shopify", "woocommerce", "other"]
CHANNELS: tuple[str, ...] = (
    "payment_intents_api",
    "checkout",
    "links",
    "shopify",
    "woocommerce",
    "other",
)
SEGMENTS: tuple[str, ...] = ("smb", "mid_market", "enterprise", "platform")
SEGMENT_LABELS = {
    "smb": "SMB",
    "mid_market": "Mid-market",
    "enterprise": "Enterprise",
    "platform": "Platform",
}

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HOST = re.compile(r"^(?:https?://)?(?P<host>[a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::\d+)?(?:/\S*)?$", re.I)
MAX_AMOUNT_PHP = 10**12


class BriefIn(BaseModel):
    """A solution-brief request, from the API or the web form."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    merchant_name: str = Field(min_length=1, max_length=200)
    website: str | None = Field(default=None, max_length=300)
    industry: str | None = Field(default=None, max_length=100)
    segment: Segment | None = None
    monthly_volume_php: float | None = Field(default=None, ge=0, le=MAX_AMOUNT_PHP)
    average_ticket_php: float | None = Field(default=None, ge=0, le=MAX_AMOUNT_PHP)
    payment_methods: list[str] = Field(min_length=1, max_length=len(PAYMENT_METHODS))
    integration_channel: str
    # Checked even when absent: it is required when the channel is "other".
    platform_name: str | None = Field(default=None, max_length=100, validate_default=True)
    tech_stack: str | None = Field(default=None, max_length=500)
    go_live_date: date | None = None
    questions: str | None = Field(default=None, max_length=5000)
    contact_email: str | None = Field(default=None, max_length=320)

    @field_validator(
        "website", "industry", "platform_name", "tech_stack", "questions", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("payment_methods")
    @classmethod
    def _known_methods(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in PAYMENT_METHODS]
        if unknown:
            raise ValueError(
                f"unknown payment method {unknown[0]!r}; known: {', '.join(PAYMENT_METHODS)}"
            )
        return [m for m in PAYMENT_METHODS if m in value]  # taxonomy order, no duplicates

    @field_validator("integration_channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"unknown integration channel {value!r}; known: {', '.join(CHANNELS)}")
        return value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if HOST.match(value) is None:
            raise ValueError("enter a web address such as https://shop.example.ph")
        return value if value.lower().startswith(("http://", "https://")) else f"https://{value}"

    @field_validator("contact_email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and EMAIL.match(value.strip()) is None:
            raise ValueError("enter an email address such as dev@shop.example.ph")
        return value

    @field_validator("platform_name")
    @classmethod
    def _platform_named(cls, value: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("integration_channel")
        if channel == "other" and not value:
            raise ValueError("name the platform when the integration channel is 'other'")
        return value if channel == "other" else None

    def canonical(self) -> dict[str, Any]:
        """The request as stored and hashed (JSON types, fields in a fixed order)."""
        return self.model_dump(mode="json")


class BriefAccepted(BaseModel):
    id: str
    status: str


class BriefOut(BaseModel):
    """CONTRACT.md: `GET /api/v1/briefs/{id}`."""

    id: str
    status: Literal["queued", "rendering", "ready", "failed"]
    pdf_url: str | None
    error: str | None
    version: int
    merchant_name: str
    recommended_channel: str | None
    out_of_date: bool

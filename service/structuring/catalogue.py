"""The PayMongo error-code catalogue (`briefs/errors.yaml`), validated and cached."""

from __future__ import annotations

import datetime as dt
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.structuring.taxonomy import PaymentMethod, ProductArea

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "briefs" / "errors.yaml"

CodeKind = Literal["api", "decline", "provider"]


class ErrorCode(BaseModel):
    """One catalogue entry: what a code means and what the merchant should do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)$")
    kind: CodeKind
    meaning: str = Field(min_length=1)
    product_area: ProductArea
    payment_method: PaymentMethod | None
    http_status: int | None = Field(default=None, ge=100, le=599)
    fix: str = Field(min_length=1)
    source: str = Field(pattern=r"^https://")
    uncertain: bool
    related: tuple[str, ...] = ()


class EventType(BaseModel):
    """A PayMongo webhook event name and how sure the facts are about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z_]+(?:\.[a-z_]+)+$")
    object: str
    uncertain: bool
    source: str = Field(pattern=r"^https://")
    note: str | None = None


class Catalogue(BaseModel):
    """The whole reviewed document: header keys, codes and webhook event names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Literal["error-catalogue"]
    title: str
    owner: str
    reviewed_at: dt.date
    applies_to: tuple[ProductArea, ...]
    status: Literal["draft", "published", "retired"]
    entries: tuple[ErrorCode, ...] = Field(alias="codes")
    events: tuple[EventType, ...] = Field(alias="event_types")

    @model_validator(mode="after")
    def _unique_and_linked(self) -> Catalogue:
        names = [entry.code for entry in self.entries]
        if len(names) != len(set(names)):
            raise ValueError("duplicate code in the catalogue")
        dangling = {r for entry in self.entries for r in entry.related} - set(names)
        if dangling:
            raise ValueError(f"related codes missing from the catalogue: {sorted(dangling)}")
        return self

    @cached_property
    def codes(self) -> dict[str, ErrorCode]:
        """Entries by code, exactly as PayMongo spells it."""
        return {entry.code: entry for entry in self.entries}

    @cached_property
    def event_types(self) -> frozenset[str]:
        """Every webhook event name the catalogue knows."""
        return frozenset(event.name for event in self.events)

    def lookup(self, code: str) -> ErrorCode | None:
        """The entry for `code` (case-sensitive: `SYSTEM_ERROR` is not `system_error`)."""
        return self.codes.get(code)


def parse_catalogue(text: str) -> Catalogue:
    """Validate catalogue YAML text."""
    return Catalogue.model_validate(yaml.safe_load(text))


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The catalogue from `briefs/errors.yaml`, parsed once per process."""
    return parse_catalogue(CATALOGUE_PATH.read_text(encoding="utf-8"))

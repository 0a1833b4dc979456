"""Configuration checks per product area (`briefs/checks.yaml`): what an agent verifies on
the merchant's setup before answering or escalating. One table serves the triage
assistant and the agents' printed documents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.content.library import Library
from service.structuring.taxonomy import ProductArea

CHECKS_DOCUMENT = "configuration-checks"
# The `other` area's checks hold for every ticket (modes, reading the whole error).
GENERAL_AREA = "other"


class CheckLine(BaseModel):
    """A configuration check to run on the merchant's setup (a row of `briefs/checks.yaml`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check: str = Field(min_length=1)
    why: str = Field(min_length=1)
    source: str = Field(pattern=r"^https://")


class _ChecksTable(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the front-matter keys

    areas: dict[ProductArea, tuple[CheckLine, ...]]


def checks_table(library: Library) -> dict[str, tuple[CheckLine, ...]]:
    """Product area → its checks (empty when the library has no checks document)."""
    document = library.get(CHECKS_DOCUMENT)
    if document is None:
        return {}
    areas = _ChecksTable.model_validate(document.meta).areas
    return {str(area): checks for area, checks in areas.items()}


def area_checks(library: Library, area: str) -> tuple[CheckLine, ...]:
    """The checks specific to `area`."""
    return checks_table(library).get(area, ())


def checks_to_run(library: Library, area: str) -> tuple[CheckLine, ...]:
    """What to verify on a ticket of `area`: its own checks, then the general ones."""
    table = checks_table(library)
    general = () if area == GENERAL_AREA else table.get(GENERAL_AREA, ())
    return table.get(area, ()) + general

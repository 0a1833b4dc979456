"""What briefs take from the content library: fact sheets, guides, the checklist, as HTML.

The library root is injectable (`Settings.brief_library_dir`, tests pass a fixture);
`service.content.library.library_for` re-reads it when a file changes, so a reviewed edit
shows up in the next brief, and marks older briefs out of date, without a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.content.library import Document, Library

PUBLISHED = "published"
CHECKBOX = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+(?P<text>.+?)\s*$", re.MULTILINE)
CARD_NUMBER = re.compile(r"\b\d{13,19}\b")


@dataclass(frozen=True)
class BriefContent:
    """The published documents a brief can draw on, by what they are about."""

    library: Library
    fact_sheets: dict[str, Document]  # payment method id → fact sheet
    guides: dict[str, Document]  # integration channel → guide
    checklist: Document | None


def brief_content(library: Library) -> BriefContent:
    """Index the library's published documents the way briefs look them up."""
    published = [d for d in library.documents.values() if d.status == PUBLISHED]
    sheets = {str(d.meta.get("payment_method")): d for d in published if d.kind == "payment_method"}
    guides = {str(d.meta.get("channel")): d for d in published if d.kind == "integration"}
    checklists = sorted((d for d in published if d.kind == "checklist"), key=lambda d: d.id)
    return BriefContent(library, sheets, guides, checklists[0] if checklists else None)


def checklist_items(document: Document) -> list[str]:
    """The `- [ ]` items of a checklist's `## Checklist` section (the whole body if absent)."""
    text = document.section("Checklist") or document.body
    return [m.group("text") for m in CHECKBOX.finditer(text)]


def test_cards(document: Document) -> list[tuple[str, str]]:
    """(card number, outcome) rows of a fact sheet's `## Testing` table."""
    rows: list[tuple[str, str]] = []
    for line in document.section("Testing").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and CARD_NUMBER.fullmatch(cells[0]):
            rows.append((cells[0], " | ".join(cells[1:])))
    return rows

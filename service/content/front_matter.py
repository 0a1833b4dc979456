"""Front-matter rules: required keys and their types, id conventions, sources, age."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from service.content.findings import Finding, Standards
from service.content.library import CHANNELS, KINDS, REQUIRED_KEYS, STATUSES
from service.faq.models import FaqStatus
from service.structuring.taxonomy import PAYMENT_METHODS, PRODUCT_AREAS

# What `applies_to` may name: the selectors the brief composer and FAQ generator use.
LABELS = frozenset(PRODUCT_AREAS) | frozenset(PAYMENT_METHODS) | frozenset(CHANNELS)
NEEDS_SOURCES = ("payment_method", "integration", "checklist")
FOLDERS = {"payment_method": "payment-methods", "integration": "integrations"}
# FAQ entries carry their review workflow's states; library files draft/published/retired.
FAQ_STATUSES = tuple(status.value for status in FaqStatus)
NOT_JUDGED_FOR_AGE = ("retired", FaqStatus.STALE.value)  # already out of service or flagged
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_URL = re.compile(r"^https://[^\s/]+\.[^\s]+$")
_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:", re.MULTILINE)

Report = Callable[[str, str], None]  # (front-matter key, message)


def key_lines(meta_text: str, first_line: int) -> dict[str, int]:
    """File line of every top-level key in a YAML text that starts on `first_line`."""
    return {
        match.group("key"): first_line + meta_text[: match.start()].count("\n")
        for match in _KEY.finditer(meta_text)
    }


def resolve_kind(meta: dict[str, Any], expected: str | None, path: Path | None) -> str | None:
    """The document's kind: its `kind:` key, else what the caller expects, else by file type."""
    if "kind" in meta:
        return str(meta["kind"])
    if expected:
        return expected
    if path is not None and path.suffix in (".yaml", ".yml"):
        return "catalogue"
    return None


def check(
    label: str,
    meta: dict[str, Any],
    lines: dict[str, int],
    *,
    expected_kind: str | None,
    path: Path | None,
    standards: Standards,
) -> list[Finding]:
    """Every front-matter finding of one document."""
    found: list[Finding] = []

    def report(key: str, message: str) -> None:
        found.append(Finding(label, lines.get(key, 1), "front-matter", message))

    kind = _check_kind(meta, expected_kind, path, report)
    _check_required(meta, kind, report)
    _check_values(meta, kind, standards, report)
    if kind == "payment_method":
        _check_identity(meta, "payment_method", PAYMENT_METHODS, "pm-", report)
    elif kind == "integration":
        _check_identity(meta, "channel", CHANNELS, "guide-", report)
    if path is not None and kind is not None:
        _check_file_name(meta, kind, path, report)
    found.extend(stale(label, meta, lines, standards))
    return found


def _check_kind(
    meta: dict[str, Any], expected: str | None, path: Path | None, report: Report
) -> str | None:
    kind = resolve_kind(meta, expected, path)
    if kind is None:
        report("kind", f"front matter lacks 'kind' (one of: {', '.join(KINDS)})")
    elif kind not in KINDS:
        report("kind", f"kind {kind!r} is not one of: {', '.join(KINDS)}")
        return None
    elif expected and kind != expected:
        report("kind", f"kind {kind!r} where a {expected!r} document is expected")
    return kind


def _check_required(meta: dict[str, Any], kind: str | None, report: Report) -> None:
    required = REQUIRED_KEYS + (("sources",) if kind in NEEDS_SOURCES else ())
    for key in required:
        if key not in meta or meta[key] in (None, "", []):
            report(key, f"front matter lacks {key!r} (required: {', '.join(required)})")


def _check_values(
    meta: dict[str, Any], kind: str | None, standards: Standards, report: Report
) -> None:
    if "id" in meta and not _SLUG.match(str(meta["id"])):
        report("id", f"id {meta['id']!r} must be lower-case words joined by '-'")
    for key in ("title", "owner"):
        if key in meta and not isinstance(meta[key], str):
            report(key, f"{key} must be text")
    statuses = FAQ_STATUSES if kind == "faq" else STATUSES
    if "status" in meta and meta["status"] not in statuses:
        report("status", f"status {meta['status']!r} is not one of: {', '.join(statuses)}")
    reviewed = meta.get("reviewed_at")
    if reviewed is not None:
        if not _is_date(reviewed):
            report("reviewed_at", f"reviewed_at {reviewed!r} must be a date (YYYY-MM-DD)")
        elif reviewed > standards.today:
            report("reviewed_at", f"reviewed_at {reviewed} is in the future")
    for problem in _label_problems(meta.get("applies_to")):
        report("applies_to", problem)
    if "sources" in meta or kind in NEEDS_SOURCES:
        for problem in _source_problems(meta.get("sources")):
            report("sources", problem)


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _label_problems(labels: object) -> Iterator[str]:
    if labels is None:
        return
    if not isinstance(labels, list) or not labels:
        yield "applies_to must be a non-empty list of TAXONOMY ids or channel ids"
        return
    for unknown in (str(label) for label in labels if label not in LABELS):
        yield f"applies_to names {unknown!r}, which is no product area, payment method or channel"


def _source_problems(sources: object) -> Iterator[str]:
    if sources is None:
        return
    if not isinstance(sources, list) or not sources:
        yield "sources must be a non-empty list of https:// URLs"
        return
    for bad in (s for s in sources if not isinstance(s, str) or not _URL.match(s)):
        yield f"source {bad!r} is not an https:// URL"


def _check_identity(
    meta: dict[str, Any], key: str, allowed: tuple[str, ...], prefix: str, report: Report
) -> None:
    """A fact sheet names its payment method, a guide its channel; the id follows it."""
    value = meta.get(key)
    if value not in allowed:
        report(key, f"{key} {value!r} is not one of: {', '.join(allowed)}")
        return
    expected_id = prefix + str(value).replace("_", "-")
    if meta.get("id") != expected_id:
        report("id", f"id {meta.get('id')!r} must be {expected_id!r} for {key} {value!r}")
    if isinstance(meta.get("applies_to"), list) and value not in meta["applies_to"]:
        report("applies_to", f"applies_to must include its {key} {value!r}")


def _check_file_name(meta: dict[str, Any], kind: str, path: Path, report: Report) -> None:
    if kind != "catalogue" and "id" in meta and path.stem != meta["id"]:
        report("id", f"file name {path.name!r} must be the id: {meta['id']}{path.suffix}")
    folder = FOLDERS.get(kind)
    if folder and path.parent.name != folder:
        report("kind", f"a {kind} document belongs in {folder}/, not {path.parent.name}/")


def stale(
    label: str, meta: dict[str, Any], lines: dict[str, int], standards: Standards
) -> list[Finding]:
    """A document not reviewed within `max_age_days` (retired or stale-flagged: exempt)."""
    reviewed = meta.get("reviewed_at")
    if not isinstance(reviewed, dt.date) or isinstance(reviewed, dt.datetime):
        return []  # the front-matter rule reports a missing or malformed date
    if meta.get("status") in NOT_JUDGED_FOR_AGE:
        return []
    age = (standards.today - reviewed).days
    if age <= standards.max_age_days:
        return []
    message = (
        f"reviewed_at {reviewed} is {age} days old (limit {standards.max_age_days}, "
        "RELAY_CONTENT_MAX_AGE_DAYS); check the facts against the sources and update it"
    )
    return [Finding(label, lines.get("reviewed_at", 1), "stale", message)]

"""Documentation standards as code: `relay docs lint` checks every content file and FAQ.

Rules are small functions that each yield `Finding(path_label, line, rule_id, message)`;
`RULES` in `findings.py` lists them with their severity, and `briefs/README.md` explains
each to writers. Library files go through `lint_library`; a generated FAQ entry goes
through `lint_markdown`, the same function every Markdown file of the library uses.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from service.content import front_matter
from service.content.findings import RULES, Finding, Scope, Standards
from service.content.library import (
    LIBRARY_DIR,
    ContentError,
    document_paths,
    load_yaml,
    split_markdown,
)
from service.content.markdown import markdown_findings
from service.content.prose import DEFAULT_MAX_SENTENCE_WORDS
from service.structuring.catalogue import CATALOGUE_PATH, Catalogue, load_catalogue
from service.structuring.redaction import KINDS as SECRET_KINDS
from service.structuring.redaction import redact_text

__all__ = ["RULES", "Finding", "Scope", "Standards", "lint_library", "lint_markdown"]

# PayMongo's published test cards (card-integration-test-cases). They pass the Luhn check
# but are public, so a fact sheet may print them; any other card number is a leak.
TEST_CARDS = ("4120000000000007", "4200000000000018", "5555444444444457")
# What each kind of leak is called, and what to write instead.
_SECRET_ADVICE = {
    "PAN": ("a card number", "use a published test card"),
    "CVC": ("a CVC", "leave the digits out"),
    "SECRET": ("a secret key or credential", "write a placeholder such as sk_test_…"),
}


def lint_library(
    root: Path = LIBRARY_DIR,
    *,
    max_age_days: int,
    today: dt.date,
    max_sentence_words: int = DEFAULT_MAX_SENTENCE_WORDS,
) -> list[Finding]:
    """Every finding in the library under `root`, sorted by file and line."""
    standards = Standards(today, max_age_days, max_sentence_words)
    paths = document_paths(root)
    ids, findings = _ids(paths)
    scope = Scope(root, frozenset(ids), _codes(root))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            findings += _lint_markdown(_label(path), text, None, path, standards, scope)
        else:
            findings += _lint_yaml(_label(path), text, path, standards)
    return sorted(findings)


def lint_markdown(
    label: str,
    text: str,
    *,
    kind: str | None,
    today: dt.date,
    max_age_days: int,
    max_sentence_words: int = DEFAULT_MAX_SENTENCE_WORDS,
    scope: Scope | None = None,
    path: Path | None = None,
) -> list[Finding]:
    """Findings for one Markdown document (`kind` None: take it from the front matter).

    Links resolve against `scope` (the shipped library by default); `path` places the
    document in the library so relative links and its file name can be checked.
    """
    standards = Standards(today, max_age_days, max_sentence_words)
    scope = scope or shipped_scope()
    return sorted(_lint_markdown(label, text, kind, path, standards, scope))


def shipped_scope() -> Scope:
    """Ids and codes of the shipped library, for linting text that lives elsewhere (FAQs)."""
    ids, _ = _ids(document_paths(LIBRARY_DIR))
    return Scope(LIBRARY_DIR, frozenset(ids), _codes(LIBRARY_DIR))


def _lint_markdown(
    label: str, text: str, kind: str | None, path: Path | None, standards: Standards, scope: Scope
) -> list[Finding]:
    findings = secrets(label, text)
    try:
        meta_text, body, body_line = split_markdown(text, label=label)
        meta = _mapping(load_yaml(meta_text))
    except (ContentError, yaml.YAMLError) as exc:
        return [*findings, _unreadable(label, exc, first_line=2)]
    lines = front_matter.key_lines(meta_text, first_line=2)
    findings += front_matter.check(
        label, meta, lines, expected_kind=kind, path=path, standards=standards
    )
    resolved = front_matter.resolve_kind(meta, kind, path)
    base = path.parent if path is not None else scope.root
    findings += markdown_findings(label, body, body_line, resolved, base, scope, standards)
    return findings


def _lint_yaml(label: str, text: str, path: Path, standards: Standards) -> list[Finding]:
    """The error catalogue: front matter at the top level, then its own schema."""
    findings = secrets(label, text)
    try:
        meta = _mapping(load_yaml(text))
    except (ContentError, yaml.YAMLError) as exc:
        return [*findings, _unreadable(label, exc, first_line=1)]
    lines = front_matter.key_lines(text, first_line=1)
    findings += front_matter.check(
        label, meta, lines, expected_kind=None, path=path, standards=standards
    )
    if path.name == CATALOGUE_PATH.name:  # other YAML tables have their own owners' schemas
        findings += _catalogue(label, meta, lines)
    return findings


def _catalogue(label: str, loaded: dict[str, Any], lines: dict[str, int]) -> list[Finding]:
    try:
        Catalogue.model_validate(loaded)
    except ValidationError as exc:
        return [
            Finding(
                label,
                lines.get(str(error["loc"][0]) if error["loc"] else "", 1),
                "catalogue",
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}",
            )
            for error in exc.errors()
        ]
    return []


def secrets(label: str, text: str) -> list[Finding]:
    """Lines holding what the one redactor would remove (published test cards excepted)."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        for card in TEST_CARDS:
            line = line.replace(card, "TEST-CARD")
        counts = redact_text(line).counts
        for kind in (k for k in SECRET_KINDS if counts.get(k)):
            name, advice = _SECRET_ADVICE[kind]
            message = f"line holds {name} (redacted as [REDACTED:{kind}] in tickets); {advice}"
            findings.append(Finding(label, number, "secret", message))
    return findings


def _unreadable(label: str, exc: Exception, *, first_line: int) -> Finding:
    mark = getattr(exc, "problem_mark", None)
    line = first_line + mark.line if mark is not None else 1
    detail = str(exc).split("\n", 1)[0] if isinstance(exc, ContentError) else str(exc)
    return Finding(label, line, "front-matter", f"front matter cannot be read: {detail}")


def _mapping(loaded: object) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise ContentError("front matter must be a mapping of keys")
    return loaded


def _ids(paths: Iterable[Path]) -> tuple[set[str], list[Finding]]:
    """Every document id (read leniently: broken files are reported by their own lint)."""
    seen: dict[str, Path] = {}
    duplicates = []
    for path in paths:
        document_id = _peek_id(path)
        if document_id is None:
            continue
        if document_id in seen:
            message = f"id {document_id!r} is also used by {_label(seen[document_id])}"
            duplicates.append(Finding(_label(path), 1, "duplicate-id", message))
        else:
            seen[document_id] = path
    return set(seen), duplicates


def _peek_id(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8")
    try:
        meta_text = text if path.suffix != ".md" else split_markdown(text, label=str(path))[0]
        meta = load_yaml(meta_text)
    except (ContentError, yaml.YAMLError):
        return None
    return str(meta["id"]) if isinstance(meta, dict) and "id" in meta else None


def _codes(root: Path) -> frozenset[str]:
    """Codes of the catalogue beside the documents, else of the shipped catalogue."""
    local = root / CATALOGUE_PATH.name
    if not local.exists() or local.resolve() == CATALOGUE_PATH.resolve():
        return frozenset(load_catalogue().codes)
    try:
        return frozenset(Catalogue.model_validate(load_yaml(local.read_text("utf-8"))).codes)
    except (ValidationError, yaml.YAMLError):
        return frozenset(load_catalogue().codes)  # the catalogue rule reports the local one


def _label(path: Path) -> str:
    """The path as a person in the repository types it (relative when possible)."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()

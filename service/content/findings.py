"""What the documentation linter reports, and the standards it holds documents to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from service.content.prose import DEFAULT_MAX_SENTENCE_WORDS

Severity = Literal["error", "warning"]

# Every rule, its severity and what it checks (README.md in briefs/ explains each).
RULES: dict[str, tuple[Severity, str]] = {
    "front-matter": ("error", "required keys, their types, ids, kinds, sources and file names"),
    "stale": ("error", "reviewed_at no older than the configured age"),
    "sections": ("error", "the level-2 sections a document of its kind must have, not empty"),
    "failure-codes": ("error", "'## Common failures' lists codes that errors.yaml defines"),
    "checklist": ("error", "'## Checklist' items are unticked '- [ ] ' tasks"),
    "secret": ("error", "no card numbers, CVCs, secret keys or credentials"),
    "dead-link": ("error", "relative and relay: links resolve to library documents"),
    "json": ("error", "code blocks marked json parse as JSON"),
    "amount-unit": ("error", "money amounts carry their unit (centavos or ₱/PHP)"),
    "banned-word": ("error", "no 'simply', 'just', 'obviously' and the like"),
    "person": ("warning", "instructions address the reader as 'you'"),
    "sentence-length": ("warning", "sentences no longer than the configured word count"),
    "duplicate-id": ("error", "every document id is used once"),
    "catalogue": ("error", "errors.yaml validates as the error-code catalogue"),
}


@dataclass(frozen=True, order=True)
class Finding:
    """One breach of the standards, at a file (or FAQ entry) and line."""

    path_label: str
    line: int
    rule_id: str
    message: str

    @property
    def severity(self) -> Severity:
        return RULES[self.rule_id][0]

    def __str__(self) -> str:
        tag = "warning: " if self.severity == "warning" else ""
        return f"{self.path_label}:{self.line}: {self.rule_id}: {tag}{self.message}"


@dataclass(frozen=True)
class Standards:
    """The configurable limits: document age, the day it is judged on, sentence length."""

    today: dt.date
    max_age_days: int
    max_sentence_words: int = DEFAULT_MAX_SENTENCE_WORDS


@dataclass(frozen=True)
class Scope:
    """What links and failure codes resolve against: a library's folder, ids and codes."""

    root: Path
    ids: frozenset[str]
    codes: frozenset[str]

"""Deterministic FAQ drafts from a theme: its records, the catalogue and the content library.

Same inputs, same draft: a regeneration adds a version only when the draft's hash
changes. Every string comes from a redacted record, the reviewed catalogue or a fixed
template, and is filtered so that no redaction mark reaches the entry.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from service.content.library import Document, Library
from service.faq import text as faq_text
from service.feedback.models import Feedback
from service.structuring.catalogue import Catalogue
from service.themes import service as themes_service
from service.themes.models import Theme, ThemeMembership, ThemeStatus
from service.themes.similarity import unpack_weights

CATALOGUE_DOC = "error-catalogue"
MAX_MEMBERS = 500
MAX_CODES = 3
MAX_QUOTES = 3
MAX_QUESTION = 160
REPLY_DUPLICATE = 0.8  # token Jaccard above which two agent replies count as one answer
SOLVED = ("solved", "closed")
MAX_RELATED = 4
# Tagalog function words: a subject holding one is Taglish. The question prefers an
# English subject (the FAQ is written in English); Taglish ones still appear as quotes.
TAGALOG = frozenset(
    [
        "ang",
        "ng",
        "mga",
        "sa",
        "na",
        "pa",
        "po",
        "ko",
        "ako",
        "hindi",
        "lang",
        "rin",
        "din",
        "naman",
        "yung",
        "nag",
        "mag",
        "ayaw",
        "bakit",
        "paano",
        "wala",
        "kasi",
        "ba",
        "nga",
        "kami",
        "namin",
        "nyo",
        "niyo",
        "yun",
        "daw",
        "bago",
        "ulit",
        "talaga",
    ]
)
OPEN_JIRA = (ThemeStatus.ESCALATED.value, ThemeStatus.FIX_PLANNED.value)

CAUSES = {
    "misconfiguration": "Your account or integration settings do not match what the request "
    "needs. The payment flow works once the settings below are right.",
    "how_to": "This is how the product works today. The steps below show how you get the "
    "result you want.",
    "bug": "This is a defect on the PayMongo side. It is not caused by your integration.",
    "incident": "A PayMongo service or a payment provider was degraded. Your integration did "
    "not cause it.",
    "friction": "The product works as designed, but the flow adds steps for you or your customers.",
    "feature_request": "PayMongo does not offer this yet.",
    "docs_gap": "The documentation does not cover this case clearly yet.",
}
FALLBACK_STEP = (
    "Contact PayMongo support with the time of the failure, the mode (test or live) and "
    "the object id you used."
)


@dataclass(frozen=True)
class Draft:
    """What one generation proposes for a theme, before it becomes Markdown."""

    theme_id: str
    question: str
    product_area: str | None
    payment_method: str | None
    symptoms: tuple[str, ...]
    cause: str
    steps: tuple[str, ...]
    solved_reply: str | None
    known_limitation: str | None
    related: tuple[tuple[str, str], ...]  # (title, relay:<document id>)
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def applies_to(self) -> tuple[str, ...]:
        return tuple(x for x in (self.product_area, self.payment_method) if x)


def qualifying_themes(session: Session, *, min_merchants: int) -> list[Theme]:
    """Live themes reported by at least `min_merchants` merchants, highest impact first."""
    filters = themes_service.ThemeFilters(min_records=1)
    themes = themes_service.list_themes(session, filters=filters, limit=10_000)
    return [t for t in themes if t.merchant_count >= min_merchants]


def draft_for(
    session: Session,
    *,
    theme: Theme,
    catalogue: Catalogue,
    library: Library,
    fix_version: str | None,
) -> Draft:
    """The deterministic draft for `theme`."""
    members = _ranked_members(theme, themes_service.members(session, theme_id=theme.id))
    records = [record for _, record in members]
    codes = [c for c in theme.error_codes if catalogue.lookup(c) is not None][:MAX_CODES]
    question = _question(theme, records)
    related, used = _related(theme, library, uses_catalogue=bool(codes))
    reply, reply_ids = best_reply(records)
    return Draft(
        theme_id=theme.id,
        question=question,
        product_area=theme.product_area,
        payment_method=theme.payment_method,
        symptoms=_symptoms(theme, records, question),
        cause=_cause(theme, catalogue, codes),
        steps=_steps(theme, catalogue, codes, fix_version, has_reply=reply is not None),
        solved_reply=reply,
        known_limitation=_known_limitation(theme),
        related=related,
        sources={
            "library": used,
            "records": sorted(r.id for r in records),
            "reply_records": reply_ids,
            "theme_status": theme.status,
            "jira_keys": list(theme.jira_keys),
            "fix_version": fix_version,
        },
    )


def draft_hash(question: str, body: str) -> str:
    return hashlib.sha256(f"{question}\n{body}".encode()).hexdigest()


# ---------------------------------------------------------------- representative records


def _ranked_members(
    theme: Theme, members: Sequence[tuple[ThemeMembership, Feedback]]
) -> list[tuple[ThemeMembership, Feedback]]:
    """Members most like the theme as a whole first (cosine to the centroid), then oldest."""
    centroid = unpack_weights(theme.centroid or {})
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0

    def closeness(item: tuple[ThemeMembership, Feedback]) -> tuple[float, str]:
        vector = unpack_weights(item[0].vector or {})
        dot = sum(w * centroid.get(k, 0.0) for k, w in vector.items())
        length = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        return (-dot / (norm * length), item[1].id)

    return sorted(members, key=closeness)


def _usable(text: str) -> bool:
    return bool(text.strip()) and not faq_text.has_placeholder(text) and len(text) <= MAX_QUESTION


def _subjects(records: Sequence[Feedback]) -> list[str]:
    seen: list[str] = []
    for record in records:
        subject = faq_text.without_banned_words(faq_text.generic_ids(record.subject or ""))
        if _usable(subject) and subject.lower() not in {s.lower() for s in seen}:
            seen.append(faq_text.capitalized(subject))
    return seen


def _question(theme: Theme, records: Sequence[Feedback]) -> str:
    subjects = _subjects(records)
    english = [s for s in subjects if not faq_text.token_set(s) & TAGALOG]
    if english or subjects:
        return (english or subjects)[0]
    title = faq_text.without_banned_words(theme.title)
    if _usable(title):
        return faq_text.capitalized(title)
    area = (theme.product_area or "payments").replace("_", " ")
    return f"Why do your {area} requests fail?"


# ---------------------------------------------------------------- sections


def _symptoms(theme: Theme, records: Sequence[Feedback], question: str) -> tuple[str, ...]:
    found = [f"You see the error code `{code}`." for code in theme.error_codes[:MAX_CODES]]
    statuses = _common((s for r in records for s in r.http_statuses), minimum=2)
    found += [f"Your requests get HTTP status {status} back." for status in statuses[:2]]
    events = _common((e for r in records for e in r.event_types), minimum=2)
    found += [f"The `{event}` webhook event is involved." for event in events[:2]]
    environment = _common((r.environment for r in records if r.environment != "unknown"), 2)
    if environment:
        found.append(f"It happens in {environment[0]} mode.")
    quotes = [s for s in _subjects(records) if s != question][:MAX_QUOTES]
    found += [f"Merchants describe it as: “{quote}”" for quote in quotes]
    return tuple(found) or (f"Merchants describe it as: “{question}”",)


def _common(values: Any, minimum: int) -> list[Any]:
    counts = Counter(values)
    return [value for value, count in counts.most_common() if count >= minimum]


def _cause(theme: Theme, catalogue: Catalogue, codes: Sequence[str]) -> str:
    parts = [CAUSES.get(theme.category or "how_to", CAUSES["how_to"])]
    for code in codes:
        entry = catalogue.lookup(code)
        if entry is not None:
            parts.append(f"`{code}` means: {faq_text.first_sentence(entry.meaning)}")
    return faq_text.without_banned_words_lines("\n\n".join(parts))


def _steps(
    theme: Theme,
    catalogue: Catalogue,
    codes: Sequence[str],
    fix_version: str | None,
    *,
    has_reply: bool,
) -> tuple[str, ...]:
    steps: list[str] = []
    if theme.status == ThemeStatus.FIXED.value and fix_version:
        steps.append(
            f"PayMongo fixed this in release {fix_version}. Try again, and contact support if "
            "you still see the problem."
        )
    for code in codes:
        entry = catalogue.lookup(code)
        if entry is not None and entry.fix not in steps:
            steps.append(faq_text.without_banned_words(entry.fix))
    if not steps and not has_reply:
        steps.append(FALLBACK_STEP)
    return tuple(steps)


def _known_limitation(theme: Theme) -> str | None:
    if theme.status == ThemeStatus.WONT_FIX.value:
        return (
            "PayMongo decided not to change this behaviour. Plan your integration around it, "
            "and use the steps above as the lasting answer."
        )
    if theme.jira_keys and theme.status in OPEN_JIRA:
        keys = ", ".join(theme.jira_keys)
        return (
            f"PayMongo engineering is working on this issue ({keys}). Until a fix ships, use "
            "the steps above."
        )
    return None


def _related(
    theme: Theme, library: Library, *, uses_catalogue: bool
) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """Library documents for the theme's area and method, and the versions relied on."""
    labels = [x for x in (theme.product_area, theme.payment_method) if x]
    documents = {d.id: d for label in labels for d in library.applying_to(label)}
    documents.pop(CATALOGUE_DOC, None)
    catalogue = library.get(CATALOGUE_DOC)
    if catalogue is not None and (uses_catalogue or not documents):
        documents[CATALOGUE_DOC] = catalogue
    # The most specific first: documents about the theme's method, then those naming few labels.
    method = theme.payment_method

    def specificity(doc: Document) -> tuple[bool, bool, int, str]:
        is_catalogue = doc.id == CATALOGUE_DOC
        return (is_catalogue, method not in doc.applies_to, len(doc.applies_to), doc.id)

    ranked = sorted(documents.values(), key=specificity)
    ordered = [d for d in ranked if d.id != CATALOGUE_DOC][:MAX_RELATED]
    ordered += [d for d in ranked if d.id == CATALOGUE_DOC]
    links = tuple((d.title, f"relay:{d.id}") for d in ordered)
    return links, {d.id: d.version for d in ordered}


# ---------------------------------------------------------------- the reply that solved most


def best_reply(records: Sequence[Feedback]) -> tuple[str | None, list[str]]:
    """The public agent reply (near-duplicates grouped) that closed the most solved records.

    `records` come most representative first; ties go to the earlier group. Returns the
    cleaned reply and the ids of the records it closed.
    """
    groups: list[tuple[frozenset[str], str, list[str]]] = []
    for record in records:
        raw = record.last_agent_reply() if record.status in SOLVED else None
        reply = faq_text.clean_reply(raw, merchant_name=record.merchant_name) if raw else ""
        if not reply:
            continue
        tokens = faq_text.token_set(reply)
        group = next((g for g in groups if faq_text.jaccard(g[0], tokens) >= REPLY_DUPLICATE), None)
        if group is None:
            groups.append((tokens, reply, [record.id]))
        else:
            group[2].append(record.id)
    if not groups:
        return None, []
    best = max(groups, key=lambda g: len(g[2]))  # max keeps the first of equal groups
    return best[1], sorted(best[2])


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed in a theme's inputs between two generations, for the reviewer."""
    notes: list[str] = []
    if old.get("theme_status") != new.get("theme_status"):
        notes.append(f"theme status {old.get('theme_status')} → {new.get('theme_status')}")
    if new.get("fix_version") and old.get("fix_version") != new.get("fix_version"):
        notes.append(f"Jira fix shipped in {new['fix_version']}")
    old_docs, new_docs = old.get("library", {}), new.get("library", {})
    changed = sorted(k for k in new_docs if k in old_docs and old_docs[k] != new_docs[k])
    notes += [f"source {doc} changed" for doc in changed]
    notes += [f"source {doc} added" for doc in sorted(set(new_docs) - set(old_docs))]
    notes += [f"source {doc} removed" for doc in sorted(set(old_docs) - set(new_docs))]
    added = len(set(new.get("records", [])) - set(old.get("records", [])))
    if added:
        notes.append(f"{added} new record(s) in the theme")
    if old.get("reply_records") != new.get("reply_records"):
        notes.append("a different agent reply now solves the most tickets")
    return notes

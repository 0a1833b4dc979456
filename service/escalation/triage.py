"""The triage assistant for L2: what an analyst needs before replying to or escalating a ticket.

The ticket's timeline, every id and code it quotes with the catalogue's meaning and the
merchant-facing fix, the checks for its product area, its theme with the Jira state, and a
reply suggested from the agent replies that solved similar records. The suggestion is only
shown to the analyst; nothing here sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.content import checks as content_checks
from service.content.library import library
from service.escalation import inbound
from service.escalation.models import HelpdeskNote, JiraLink
from service.feedback import service as feedback_service
from service.feedback.models import Feedback
from service.structuring.catalogue import load_catalogue
from service.themes.models import Theme

SOLVED = ("solved", "closed")
CANDIDATES = 300  # similar records read when looking for a reply that worked
RESOURCE_KINDS = {
    "pi": "Payment Intent",
    "pm": "Payment Method",
    "pay": "Payment",
    "src": "Source",
    "cs": "Checkout Session",
    "link": "Link",
    "evt": "Event",
    "ref": "Refund",
    "hook": "Webhook",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime | None
    kind: str  # opened | comment | note | relay_note
    who: str
    public: bool
    text: str


@dataclass(frozen=True)
class CodeInfo:
    code: str
    known: bool
    kind: str | None
    meaning: str | None
    fix: str | None
    source: str | None


@dataclass(frozen=True)
class ResourceInfo:
    id: str
    kind: str


@dataclass(frozen=True)
class JiraInfo:
    key: str
    origin: str
    status: str | None
    resolution: str | None
    fix_versions: tuple[str, ...]


@dataclass(frozen=True)
class ThemeInfo:
    id: str
    title: str
    status: str
    status_reason: str | None
    records: int
    merchants: int
    jira: tuple[JiraInfo, ...]
    engineering: tuple[TimelineEntry, ...]


@dataclass(frozen=True)
class SuggestedReply:
    text: str
    based_on: str  # the record whose solving reply this is
    based_on_ticket: str
    why: str
    suggestion: bool = True  # always: an analyst decides, Relay never sends it


@dataclass(frozen=True)
class Triage:
    record: Feedback
    timeline: tuple[TimelineEntry, ...]
    codes: tuple[CodeInfo, ...]
    resources: tuple[ResourceInfo, ...]
    http_statuses: tuple[int, ...]
    event_types: tuple[str, ...]
    checks: tuple[str, ...]
    theme: ThemeInfo | None
    suggested_reply: SuggestedReply | None


def assemble(session: Session, *, feedback_id: str) -> Triage:
    """Everything the analyst needs for one record."""
    record = feedback_service.get(session, feedback_id=feedback_id)
    theme = session.get(Theme, record.theme_id) if record.theme_id else None
    return Triage(
        record=record,
        timeline=tuple(_timeline(session, record)),
        codes=tuple(_code(code) for code in record.error_codes),
        resources=tuple(ResourceInfo(id=r, kind=_resource_kind(r)) for r in record.resource_ids),
        http_statuses=tuple(record.http_statuses),
        event_types=tuple(record.event_types),
        checks=_checks(record),
        theme=_theme(session, theme) if theme is not None else None,
        suggested_reply=suggest_reply(session, record=record),
    )


def _timeline(session: Session, record: Feedback) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            at=record.source_created_at or record.created_at,
            kind="opened",
            who=record.merchant_name or "merchant",
            public=True,
            text=record.subject,
        )
    ]
    entries += [_comment_entry(c) for c in record.comments]
    notes = session.scalars(select(HelpdeskNote).where(HelpdeskNote.feedback_id == record.id))
    entries += [
        TimelineEntry(at=n.sent_at, kind="relay_note", who="Relay", public=False, text=n.body)
        for n in notes
    ]
    return sorted(entries, key=lambda e: (e.at is None, e.at or datetime.min.replace(tzinfo=UTC)))


def _comment_entry(comment: dict[str, Any]) -> TimelineEntry:
    created = comment.get("created_at")
    at = datetime.fromisoformat(created) if isinstance(created, str) else None
    return TimelineEntry(
        at=at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at,
        kind="comment" if comment.get("public") else "note",
        who=comment.get("author_name") or comment.get("author_role") or "unknown",
        public=bool(comment.get("public")),
        text=str(comment.get("body") or ""),
    )


def _code(code: str) -> CodeInfo:
    entry = load_catalogue().lookup(code)
    if entry is None:
        return CodeInfo(code=code, known=False, kind=None, meaning=None, fix=None, source=None)
    return CodeInfo(
        code=code,
        known=True,
        kind=entry.kind,
        meaning=entry.meaning,
        fix=entry.fix,
        source=entry.source,
    )


def _resource_kind(resource_id: str) -> str:
    return RESOURCE_KINDS.get(resource_id.partition("_")[0], "PayMongo object")


def _checks(record: Feedback) -> tuple[str, ...]:
    extra = []
    if {"test", "live"} <= set(record.environment_hints or ()):
        extra.append("Keys of both modes appear in the ticket: confirm which mode failed.")
    if record.environment == "unknown":
        extra.append("The ticket does not say test or live: ask, or read the key prefix.")
    checks = content_checks.checks_to_run(library(), record.product_area)
    return (*extra, *(line.check for line in checks))


def _theme(session: Session, theme: Theme) -> ThemeInfo:
    links = session.scalars(
        select(JiraLink).where(JiraLink.theme_id == theme.id).order_by(JiraLink.created_at)
    )
    engineering = [
        TimelineEntry(
            at=c.written_at,
            kind="engineering",
            who=c.author or "engineer",
            public=False,
            text=c.body,
        )
        for c in inbound.timeline(session, theme_id=theme.id)
    ]
    return ThemeInfo(
        id=theme.id,
        title=theme.title,
        status=theme.status,
        status_reason=theme.status_reason,
        records=theme.record_count,
        merchants=theme.merchant_count,
        jira=tuple(
            JiraInfo(
                key=link.jira_key,
                origin=link.origin,
                status=link.status,
                resolution=link.resolution,
                fix_versions=tuple(link.fix_versions or ()),
            )
            for link in links
        ),
        engineering=tuple(engineering[-10:]),
    )


def suggest_reply(session: Session, *, record: Feedback) -> SuggestedReply | None:
    """The agent reply that solved the most similar record (same theme, shared codes)."""
    best: tuple[int, Feedback, str] | None = None
    for candidate in _solved_neighbours(session, record):
        reply = candidate.last_agent_reply()
        if reply is None:
            continue
        score = _likeness(record, candidate)
        if best is None or score > best[0]:
            best = (score, candidate, reply)
    if best is None:
        return None
    score, candidate, reply = best
    return SuggestedReply(
        text=reply,
        based_on=candidate.id,
        based_on_ticket=candidate.external_id,
        why=_why(record, candidate),
    )


def _solved_neighbours(session: Session, record: Feedback) -> list[Feedback]:
    near = (
        Feedback.theme_id == record.theme_id
        if record.theme_id
        else Feedback.product_area == record.product_area
    )
    query = (
        select(Feedback)
        .where(near, Feedback.id != record.id, Feedback.status.in_(SOLVED))
        .where(Feedback.deleted.is_(False))
        .order_by(Feedback.updated_at.desc())
        .limit(CANDIDATES)
    )
    return list(session.scalars(query))


def _likeness(record: Feedback, other: Feedback) -> int:
    shared = len(set(record.error_codes) & set(other.error_codes))
    return (
        3 * (record.theme_id is not None and record.theme_id == other.theme_id)
        + 2 * shared
        + (record.payment_method is not None and record.payment_method == other.payment_method)
        + (record.category == other.category)
    )


def _why(record: Feedback, other: Feedback) -> str:
    reasons = []
    if record.theme_id and record.theme_id == other.theme_id:
        reasons.append("same theme")
    shared = sorted(set(record.error_codes) & set(other.error_codes))
    if shared:
        reasons.append("shared codes " + ", ".join(shared))
    reasons.append(f"{other.external_id} was solved with it")
    return "; ".join(reasons)

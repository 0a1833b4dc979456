"""Jira webhooks' effects on themes: status, resolution and fix version of linked issues move
the theme's status; engineers' comments become the theme's engineering timeline.

An issue is linked when Relay filed it (its `relay-theme-<id>` label), or when Engineering
filed it and it names a theme id or a helpdesk ticket Relay knows. Each issue keeps the
ordering key of the newest event applied, so redeliveries and late, older events change
nothing: the final state is the one an in-order delivery gives.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.contracts import JiraRef, NormalizedTicket, TicketComment
from service.config import Settings
from service.db import new_id, utcnow
from service.escalation import mapping, status, writeback
from service.escalation.models import EngineeringComment, JiraLink
from service.escalation.service import RELAY_MARK, link
from service.feedback.models import Feedback
from service.structuring.redaction import redact_text
from service.themes.models import Theme, ThemeStatus

_THEME_ID = re.compile(r"(?<![\w-])(?:relay-theme-)?(th_[0-9a-f]{32})(?![0-9a-f])")
_TICKET = re.compile(
    r"(?i)(?:zendesk[\s:#-]*(?:ticket[\s#:-]*)?|/agent/tickets/|\bZD[\s#:-]*)(\d{1,12})\b"
)


def is_relay_issue(ticket: NormalizedTicket) -> bool:
    """Relay filed this issue: it is Relay's output, not another merchant report."""
    labels = ticket.jira.labels if ticket.jira else ()
    return any(label.startswith(mapping.THEME_LABEL_PREFIX) for label in labels)


def apply(session: Session, *, ticket: NormalizedTicket, version: str, settings: Settings) -> str:
    """Apply one Jira event to the theme its issue is linked to (linking it if it names one)."""
    if ticket.jira is None:
        return "no jira facts"
    ref = ticket.jira
    theme = _linked_theme(session, ticket)
    if theme is None:
        return f"{ref.key}: not linked to a theme"
    found = session.get(JiraLink, ref.key)
    origin = "relay" if is_relay_issue(ticket) else "mention"
    current = found or link(session, theme=theme, key=ref.key, origin=origin)
    _keep_comments(session, theme=theme, key=ref.key, comments=ticket.comments)
    if ticket.deleted or version <= current.event_version:
        return f"{ref.key}: nothing newer"
    _record_state(current, ref, version, ticket)
    session.flush()  # the worker runs without autoflush; the next query compares versions
    return _apply_status(session, theme=theme, current=current, settings=settings)


def _linked_theme(session: Session, ticket: NormalizedTicket) -> Theme | None:
    assert ticket.jira is not None
    found = session.get(JiraLink, ticket.jira.key)
    if found is not None:
        return _live(session, found.theme_id)
    texts = [ticket.subject or "", ticket.description or "", *ticket.jira.labels]
    texts += [c.body for c in ticket.comments]
    for theme_id in _THEME_ID.findall(" ".join(texts)):
        theme = _live(session, theme_id)
        if theme is not None:
            return theme
    return _theme_of_ticket(session, " ".join(texts))


def _live(session: Session, theme_id: str) -> Theme | None:
    """The theme, following merges to the one that lives on."""
    theme = session.get(Theme, theme_id)
    seen = set()
    while theme is not None and theme.merged_into and theme.id not in seen:
        seen.add(theme.id)
        theme = session.get(Theme, theme.merged_into)
    return theme


def _theme_of_ticket(session: Session, text: str) -> Theme | None:
    ids = [f"zendesk:{number}" for number in _TICKET.findall(text)]
    if not ids:
        return None
    theme_id = session.scalar(
        select(Feedback.theme_id).where(
            Feedback.source == "zendesk",
            Feedback.external_id.in_(ids),
            Feedback.theme_id.is_not(None),
        )
    )
    return _live(session, theme_id) if theme_id else None


def _record_state(current: JiraLink, ref: JiraRef, version: str, ticket: NormalizedTicket) -> None:
    current.event_version = version
    current.status, current.status_category = ref.status, ref.status_category
    current.resolution = ref.resolution
    if ref.fix_versions:
        current.fix_versions = list(ref.fix_versions)
    done = status.from_jira(ref) in (ThemeStatus.FIXED, ThemeStatus.WONT_FIX)
    current.resolved_at = (ticket.occurred_at or utcnow()) if done else None
    current.updated_at = utcnow()


def _apply_status(session: Session, *, theme: Theme, current: JiraLink, settings: Settings) -> str:
    newest = session.scalar(
        select(JiraLink.event_version)
        .where(JiraLink.theme_id == theme.id)
        .order_by(JiraLink.event_version.desc())
    )
    if newest is not None and newest > current.event_version:
        return f"{current.jira_key}: another linked issue has newer news"
    ref = JiraRef(
        key=current.jira_key,
        status=current.status,
        status_category=current.status_category,
        resolution=current.resolution,
    )
    target = status.from_jira(ref)
    if target is None:
        return f"{current.jira_key}: status {current.status!r} means nothing for the theme"
    fix_version = current.fix_versions[-1] if current.fix_versions else None
    changed = status.change(
        session,
        theme=theme,
        to=target,
        reason=_reason(current, fix_version),
        fix_version=fix_version,
    )
    if changed:
        writeback.enqueue_for_theme(session, theme=theme, settings=settings)
    return f"{current.jira_key}: theme {theme.id} {'now' if changed else 'still'} {target.value}"


def _reason(current: JiraLink, fix_version: str | None) -> str:
    parts = [f"Jira {current.jira_key}: {current.status or 'unknown status'}"]
    if current.resolution:
        parts.append(f"resolution {current.resolution}")
    if fix_version:
        parts.append(f"fix version {fix_version}")
    if current.resolved_at:
        parts.append(f"on {current.resolved_at.date().isoformat()}")
    return ", ".join(parts)


def _keep_comments(
    session: Session, *, theme: Theme, key: str, comments: tuple[TicketComment, ...]
) -> None:
    for comment in comments:
        if RELAY_MARK in comment.body:
            continue  # Relay's own growth comments are not Engineering's voice
        body = redact_text(comment.body).text
        stored = session.scalar(
            select(EngineeringComment).where(
                EngineeringComment.jira_key == key, EngineeringComment.comment_id == comment.id
            )
        )
        if stored is None:
            session.add(
                EngineeringComment(
                    id=new_id("eng"),
                    theme_id=theme.id,
                    jira_key=key,
                    comment_id=comment.id,
                    author=comment.author_name,
                    body=body,
                    written_at=comment.created_at,
                    recorded_at=utcnow(),
                )
            )
            session.flush()  # a later event of the same batch must find it
        elif stored.body != body:
            stored.body = body  # an edit (comment_updated)


def timeline(session: Session, *, theme_id: str) -> list[EngineeringComment]:
    """The theme's engineering timeline, oldest first."""
    query = (
        select(EngineeringComment)
        .where(EngineeringComment.theme_id == theme_id)
        .order_by(EngineeringComment.written_at, EngineeringComment.recorded_at)
    )
    return list(session.scalars(query))

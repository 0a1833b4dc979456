"""Helpdesk write-back: an internal note on each Zendesk ticket of a theme when the theme is
escalated and when it is fixed.

One job per (ticket, theme, status): enqueueing is idempotent by that key, and the note
carries a marker derived from it, so a retry after a timed-out call finds the note the
earlier attempt added instead of adding a second one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.contracts import HelpdeskNotes
from service.config import Settings
from service.db import new_id, utcnow
from service.escalation.models import HelpdeskNote, JiraLink
from service.faq import service as faq_service
from service.feedback.models import Feedback
from service.themes import service as themes_service
from service.themes.models import Theme, ThemeStatus
from service.worker import jobs

NOTE_TASK = "escalation.note"
SOURCES = ("zendesk",)  # helpdesks Relay can write to
# The note a theme status earns: escalated (however far Engineering got) or fixed.
NOTE_FOR = {
    ThemeStatus.ESCALATED.value: "escalated",
    ThemeStatus.INVESTIGATING.value: "escalated",
    ThemeStatus.FIX_PLANNED.value: "escalated",
    ThemeStatus.FIXED.value: "fixed",
}


def zendesk_configured(settings: Settings) -> bool:
    return bool(settings.zendesk_url and settings.zendesk_email and settings.zendesk_api_token)


def enqueue_for_theme(session: Session, *, theme: Theme, settings: Settings) -> int:
    """Queue the note the theme's status earns on each of its helpdesk tickets."""
    query = select(Feedback).where(
        Feedback.theme_id == theme.id, Feedback.source.in_(SOURCES), Feedback.deleted.is_(False)
    )
    return sum(
        enqueue_for_record(session, record=record, theme=theme, settings=settings)
        for record in session.scalars(query)
    )


def enqueue_for_record(
    session: Session, *, record: Feedback, theme: Theme, settings: Settings
) -> int:
    """Queue the record's note for its theme's status (once per ticket, theme and status)."""
    note = NOTE_FOR.get(theme.status)
    if note is None or record.source not in SOURCES or record.deleted or not theme.jira_keys:
        return 0
    if not zendesk_configured(settings):
        return 0  # write-back disabled
    key = f"{NOTE_TASK}:{record.external_id}:{theme.id}:{note}"
    payload = {"feedback_id": record.id, "theme_id": theme.id, "status": note}
    jobs.enqueue(session, task=NOTE_TASK, key=key, payload=payload)
    return 1


def send(session: Session, *, job_key: str, payload: dict[str, Any], client: HelpdeskNotes) -> str:
    """The note job: add the note unless this job (or its timed-out twin) already did."""
    if session.scalar(select(HelpdeskNote.id).where(HelpdeskNote.job_key == job_key)):
        return "note already sent"
    record = session.get(Feedback, payload["feedback_id"])
    if record is None or record.deleted:
        return "record gone: no note"
    theme = themes_service.get(session, theme_id=payload["theme_id"])
    ticket_id = record.external_id.partition(":")[2]
    marker = f"[relay-note {hashlib.sha256(job_key.encode()).hexdigest()[:16]}]"
    body = note_body(session, theme=theme, status=payload["status"], marker=marker)
    comment_id = None
    if not client.has_note(ticket_id=ticket_id, marker=marker):
        comment_id = client.add_internal_note(ticket_id=ticket_id, body=body)
    session.add(
        HelpdeskNote(
            id=new_id("note"),
            job_key=job_key,
            feedback_id=record.id,
            theme_id=theme.id,
            ticket=record.external_id,
            status=payload["status"],
            jira_key=_main_key(session, theme),
            body=body,
            comment_id=comment_id,
            sent_at=utcnow(),
        )
    )
    return f"note on {record.external_id} ({payload['status']})"


def note_body(session: Session, *, theme: Theme, status: str, marker: str) -> str:
    """Plain text for agents: the Jira key and status, and the known fix once fixed."""
    key = _main_key(session, theme) or "(no key)"
    link = session.get(JiraLink, key)
    jira_state = link.status if link is not None and link.status else "filed"
    lines = [f'Relay: this ticket belongs to the theme "{theme.title}".']
    if status == "fixed":
        version = f" in {link.fix_versions[-1]}" if link is not None and link.fix_versions else ""
        lines.append(f"Engineering fixed it{version}: Jira {key} ({jira_state}).")
        fix = faq_service.known_fix_text(session, theme_id=theme.id) or theme.fix_text
        lines.append(f"Known fix: {fix}" if fix else "No known-fix text yet: check the theme.")
    else:
        lines.append(f"Escalated to Engineering as Jira {key} (status: {jira_state}).")
        lines.append("Relay adds another note here when it is fixed.")
    lines.append(f"Internal note, not sent to the merchant. {marker}")
    return "\n".join(lines)


def _main_key(session: Session, theme: Theme) -> str | None:
    """Relay's own issue for the theme if any, else the first linked issue."""
    relay = session.scalar(
        select(JiraLink.jira_key)
        .where(JiraLink.theme_id == theme.id)
        .order_by((JiraLink.origin == "relay").desc(), JiraLink.created_at)
    )
    return relay or (theme.jira_keys[0] if theme.jira_keys else None)


def notes_for_theme(session: Session, *, theme_id: str) -> list[HelpdeskNote]:
    """The helpdesk notes sent for the theme, oldest first."""
    query = (
        select(HelpdeskNote).where(HelpdeskNote.theme_id == theme_id).order_by(HelpdeskNote.sent_at)
    )
    return list(session.scalars(query))

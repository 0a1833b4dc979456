"""A theme's engineering status: what a Jira state means for it, and the one way to change it
(so FAQ staleness and subscribers hear about every change)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from integrations.contracts import JiraRef
from service.faq import service as faq_service
from service.outbound import service as outbound
from service.themes import service as themes_service
from service.themes.models import Theme, ThemeStatus

# Resolutions that close an issue without a fix (Jira Cloud's defaults and common customs).
NOT_FIXED = frozenset(
    {
        "won't do",
        "won't fix",
        "wont do",
        "wont fix",
        "declined",
        "cannot reproduce",
        "not a bug",
        "rejected",
        "duplicate",
        "incomplete",
    }
)
IN_PROGRESS_NAMES = frozenset({"in progress", "in review", "in development", "in qa"})
DONE_NAMES = frozenset({"done", "resolved", "closed", "fixed", "released"})


def from_jira(ref: JiraRef) -> ThemeStatus | None:
    """The theme status a Jira issue state implies; None when it says nothing."""
    category = (ref.status_category or "").lower()
    name = (ref.status or "").lower()
    resolution = (ref.resolution or "").lower()
    if category == "done" or name in DONE_NAMES:
        return ThemeStatus.WONT_FIX if resolution in NOT_FIXED else ThemeStatus.FIXED
    if resolution:  # resolved in a workflow whose statuses have no category
        return ThemeStatus.WONT_FIX if resolution in NOT_FIXED else ThemeStatus.FIXED
    if category == "indeterminate" or name in IN_PROGRESS_NAMES:
        return ThemeStatus.INVESTIGATING
    if category == "new":
        return ThemeStatus.ESCALATED  # filed, not started (or reopened)
    return None


def change(
    session: Session,
    *,
    theme: Theme,
    to: ThemeStatus,
    reason: str,
    fix_version: str | None = None,
) -> bool:
    """Set the theme's status and tell FAQ and subscribers; False when it already was `to`."""
    if theme.status == to.value:
        return False
    themes_service.set_status(session, theme_id=theme.id, status=to, reason=reason)
    faq_service.on_theme_status_changed(
        session, theme_id=theme.id, status=to.value, fix_version=fix_version
    )
    outbound.emit(
        session,
        event_type="theme.status_changed",
        # One event per change; a change happens once (a repeated status is no change).
        key=f"theme.status_changed:{theme.id}:{to.value}:{theme.updated_at.isoformat()}",
        data={
            "theme_id": theme.id,
            "title": theme.title,
            "status": to.value,
            "reason": reason,
            "fix_version": fix_version,
            "jira_keys": list(theme.jira_keys or []),
        },
    )
    return True

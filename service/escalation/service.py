"""Escalation to Jira: ask once, file once (in the worker), keep Engineering posted as the
theme grows, and tie the issue key to the theme and its records.

Exactly one issue per theme, even when Jira times out after creating it: the issue carries
the label `relay-theme-<id>`, and every attempt searches for that label before creating.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.contracts import IssueTracker, NewIssue
from service.config import Settings
from service.db import utcnow
from service.errors import RelayError
from service.escalation import mapping, package, status, writeback
from service.escalation.models import Escalation, EscalationState, JiraLink
from service.feedback.models import Feedback
from service.themes import service as themes_service
from service.themes.models import Theme, ThemeStatus
from service.worker import jobs

CREATE_TASK = "escalation.create"
COMMENT_TASK = "escalation.comment"
RELAY_MARK = "Posted by Relay"  # ends Relay's own Jira comments: not engineering timeline


class EscalationDisabled(RelayError):
    code = "escalation_disabled"
    status = 503


@dataclass(frozen=True)
class Requested:
    escalation: Escalation
    new: bool


def jira_configured(settings: Settings) -> bool:
    return bool(
        settings.jira_url
        and settings.jira_email
        and settings.jira_api_token
        and settings.jira_project
    )


def get(session: Session, *, theme_id: str) -> Escalation | None:
    """The theme's escalation, if one was asked for."""
    return session.get(Escalation, theme_id)


def request(session: Session, *, theme_id: str, actor: str, settings: Settings) -> Requested:
    """Ask for the theme's Jira issue; a repeated ask returns the first one (never a second)."""
    if not jira_configured(settings):
        raise EscalationDisabled(
            "escalation is disabled: set RELAY_JIRA_URL, _EMAIL, _API_TOKEN and _PROJECT"
        )
    theme = themes_service.require_open(session, theme_id=theme_id)
    existing = session.get(Escalation, theme.id)
    if existing is not None:
        return Requested(existing, new=False)
    escalation = Escalation(theme_id=theme.id, state=EscalationState.QUEUED, requested_by=actor)
    try:
        with session.begin_nested():  # a concurrent ask for the same theme wins the row
            session.add(escalation)
    except IntegrityError:
        found = session.get(Escalation, theme.id)
        if found is None:
            raise
        return Requested(found, new=False)
    jobs.enqueue(
        session, task=CREATE_TASK, key=f"{CREATE_TASK}:{theme.id}", payload={"theme_id": theme.id}
    )
    return Requested(escalation, new=True)


def preview(session: Session, *, theme_id: str) -> str:
    """The issue description Relay would file for the theme now (wiki markup)."""
    theme = themes_service.get(session, theme_id=theme_id)
    return package.render(package.build(session, theme=theme))


def file_issue(
    session: Session, *, theme_id: str, tracker: IssueTracker, settings: Settings
) -> str:
    """The create job: find Relay's issue for the theme by label, else create it; link it."""
    escalation = session.get(Escalation, theme_id)
    if escalation is None:
        return f"no escalation for {theme_id}"
    if escalation.jira_key:
        return f"already filed as {escalation.jira_key}"
    theme = themes_service.get(session, theme_id=theme_id)
    project = settings.jira_project or ""
    found = tracker.find_by_label(project=project, label=mapping.theme_label(theme.id))
    issue = found or tracker.create_issue(_new_issue(session, theme, settings))
    escalation.jira_key, escalation.jira_url = issue.key, issue.url
    escalation.state, escalation.created_at = EscalationState.CREATED, utcnow()
    escalation.notified_merchants, escalation.notified_records = (
        theme.merchant_count,
        theme.record_count,
    )
    link(session, theme=theme, key=issue.key, origin="relay")
    if theme.status in (ThemeStatus.NEW, ThemeStatus.INVESTIGATING):
        status.change(
            session, theme=theme, to=ThemeStatus.ESCALATED, reason=f"escalated as {issue.key}"
        )
    writeback.enqueue_for_theme(session, theme=theme, settings=settings)
    return f"{'found' if found else 'created'} {issue.key}"


def _new_issue(session: Session, theme: Theme, settings: Settings) -> NewIssue:
    built = package.build(session, theme=theme)
    area = theme.product_area or "other"
    return NewIssue(
        project=settings.jira_project or "",
        summary=package.summary(built),
        description=package.render(built),
        issue_type=settings.jira_issue_type,
        labels=mapping.issue_labels(theme_id=theme.id, area=area, method=theme.payment_method),
        components=mapping.components(area) if settings.jira_use_components else (),
    )


def link(session: Session, *, theme: Theme, key: str, origin: str) -> JiraLink:
    """Tie Jira issue `key` to the theme, and its key to the theme and every record in it."""
    found = session.get(JiraLink, key)
    if found is None:
        found = JiraLink(jira_key=key, theme_id=theme.id, origin=origin, fix_versions=[])
        session.add(found)
        session.flush()  # the worker runs without autoflush; later events look it up
    if key not in (theme.jira_keys or []):
        theme.jira_keys = sorted({*(theme.jira_keys or []), key})
    members = select(Feedback).where(Feedback.theme_id == theme.id)
    for record in session.scalars(members):
        _add_key(record, key)
    return found


def _add_key(record: Feedback, key: str) -> None:
    if key not in (record.jira_keys or []):
        record.jira_keys = [*(record.jira_keys or []), key]


def after_attach(
    session: Session, *, record: Feedback, theme: Theme | None, settings: Settings
) -> None:
    """A record joined (or stayed in) an escalated theme: give it the keys and its note, and
    tell Engineering when the theme has grown past the next step."""
    if theme is None or not theme.jira_keys:
        return  # the hot path: most themes are not escalated
    for key in theme.jira_keys:
        _add_key(record, key)
    writeback.enqueue_for_record(session, record=record, theme=theme, settings=settings)
    escalation = session.get(Escalation, theme.id)
    if escalation is not None and escalation.jira_key and _grown(escalation, theme, settings):
        key = f"{COMMENT_TASK}:{theme.id}:{theme.merchant_count}:{theme.record_count}"
        jobs.enqueue(session, task=COMMENT_TASK, key=key, payload={"theme_id": theme.id})
        escalation.notified_merchants, escalation.notified_records = (
            theme.merchant_count,
            theme.record_count,
        )


def _grown(escalation: Escalation, theme: Theme, settings: Settings) -> bool:
    merchants = theme.merchant_count - escalation.notified_merchants
    records = theme.record_count - escalation.notified_records
    return (
        merchants >= settings.escalation_comment_merchant_step
        or records >= settings.escalation_comment_record_step
    )


def post_growth(session: Session, *, theme_id: str, tracker: IssueTracker) -> str:
    """The comment job: tell Engineering the theme's current size on Relay's issue."""
    escalation = session.get(Escalation, theme_id)
    if escalation is None or not escalation.jira_key:
        return "not filed yet: the issue will carry the current figures"
    theme = themes_service.get(session, theme_id=theme_id)
    size = f"{escalation.notified_merchants} merchants, {escalation.notified_records} records"
    marker = f"{RELAY_MARK} ({size})"
    if tracker.has_comment(key=escalation.jira_key, marker=marker):
        return f"growth already posted on {escalation.jira_key}"  # a timed-out attempt did
    body = package.growth_comment(package.build(session, theme=theme), marker=marker)
    comment_id = tracker.add_comment(key=escalation.jira_key, body=body)
    return f"comment {comment_id} on {escalation.jira_key}"


def links(session: Session, *, theme_id: str) -> list[JiraLink]:
    """The Jira issues tied to the theme, oldest link first."""
    query = select(JiraLink).where(JiraLink.theme_id == theme_id).order_by(JiraLink.created_at)
    return list(session.scalars(query))

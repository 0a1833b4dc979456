"""API shapes of the escalation domain: the escalation of a theme, and the triage view."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from service.escalation import triage
from service.escalation.models import EngineeringComment, Escalation, HelpdeskNote, JiraLink


class EscalationOut(BaseModel):
    theme_id: str
    state: str  # queued | created
    jira_key: str | None
    jira_url: str | None
    requested_by: str
    requested_at: datetime
    created_at: datetime | None

    @classmethod
    def of(cls, escalation: Escalation) -> EscalationOut:
        return cls(
            theme_id=escalation.theme_id,
            state=escalation.state,
            jira_key=escalation.jira_key,
            jira_url=escalation.jira_url,
            requested_by=escalation.requested_by,
            requested_at=escalation.requested_at,
            created_at=escalation.created_at,
        )


class JiraLinkOut(BaseModel):
    jira_key: str
    origin: str
    status: str | None
    status_category: str | None
    resolution: str | None
    fix_versions: list[str]
    resolved_at: datetime | None

    @classmethod
    def of(cls, link: JiraLink) -> JiraLinkOut:
        return cls(
            jira_key=link.jira_key,
            origin=link.origin,
            status=link.status,
            status_category=link.status_category,
            resolution=link.resolution,
            fix_versions=list(link.fix_versions or []),
            resolved_at=link.resolved_at,
        )


class EngineeringCommentOut(BaseModel):
    jira_key: str
    author: str | None
    body: str
    written_at: datetime | None

    @classmethod
    def of(cls, comment: EngineeringComment) -> EngineeringCommentOut:
        return cls(
            jira_key=comment.jira_key,
            author=comment.author,
            body=comment.body,
            written_at=comment.written_at,
        )


class NoteOut(BaseModel):
    ticket: str
    status: str
    jira_key: str | None
    sent_at: datetime

    @classmethod
    def of(cls, note: HelpdeskNote) -> NoteOut:
        return cls(
            ticket=note.ticket, status=note.status, jira_key=note.jira_key, sent_at=note.sent_at
        )


class EscalationDetail(BaseModel):
    """A theme's escalation: Relay's issue, every linked issue, the engineering timeline and
    the helpdesk notes sent."""

    theme_id: str
    theme_status: str
    escalation: EscalationOut | None
    links: list[JiraLinkOut]
    engineering_timeline: list[EngineeringCommentOut]
    notes: list[NoteOut]


class TimelineEntryOut(BaseModel):
    at: datetime | None
    kind: str
    who: str
    public: bool
    text: str


class CodeOut(BaseModel):
    code: str
    known: bool
    kind: str | None
    meaning: str | None
    fix: str | None
    source: str | None


class ResourceOut(BaseModel):
    id: str
    kind: str


class JiraOut(BaseModel):
    key: str
    origin: str
    status: str | None
    resolution: str | None
    fix_versions: list[str]


class ThemeOut(BaseModel):
    id: str
    title: str
    status: str
    status_reason: str | None
    records: int
    merchants: int
    jira: list[JiraOut]
    engineering_timeline: list[TimelineEntryOut]


class ReplyOut(BaseModel):
    text: str
    based_on: str
    based_on_ticket: str
    why: str
    suggestion: bool


class TriageOut(BaseModel):
    """What an analyst needs before replying or escalating. `suggested_reply` is a suggestion
    drawn from replies that solved similar records; Relay never sends it."""

    feedback_id: str
    external_id: str
    external_url: str | None
    subject: str
    merchant_name: str | None
    product_area: str
    payment_method: str | None
    category: str
    severity: str
    environment: str
    timeline: list[TimelineEntryOut]
    error_codes: list[CodeOut]
    resource_ids: list[ResourceOut]
    http_statuses: list[int]
    event_types: list[str]
    checks: list[str]
    theme: ThemeOut | None
    suggested_reply: ReplyOut | None

    @classmethod
    def of(cls, view: triage.Triage) -> TriageOut:
        record = view.record
        return cls(
            feedback_id=record.id,
            external_id=record.external_id,
            external_url=record.external_url,
            subject=record.subject,
            merchant_name=record.merchant_name,
            product_area=record.product_area,
            payment_method=record.payment_method,
            category=record.category,
            severity=record.severity,
            environment=record.environment,
            timeline=[
                TimelineEntryOut.model_validate(e, from_attributes=True) for e in view.timeline
            ],
            error_codes=[CodeOut.model_validate(c, from_attributes=True) for c in view.codes],
            resource_ids=[
                ResourceOut.model_validate(r, from_attributes=True) for r in view.resources
            ],
            http_statuses=list(view.http_statuses),
            event_types=list(view.event_types),
            checks=list(view.checks),
            theme=_theme(view.theme) if view.theme else None,
            suggested_reply=(
                ReplyOut.model_validate(view.suggested_reply, from_attributes=True)
                if view.suggested_reply
                else None
            ),
        )


def _theme(theme: triage.ThemeInfo) -> ThemeOut:
    return ThemeOut(
        id=theme.id,
        title=theme.title,
        status=theme.status,
        status_reason=theme.status_reason,
        records=theme.records,
        merchants=theme.merchants,
        jira=[
            JiraOut(
                key=j.key,
                origin=j.origin,
                status=j.status,
                resolution=j.resolution,
                fix_versions=list(j.fix_versions),
            )
            for j in theme.jira
        ],
        engineering_timeline=[
            TimelineEntryOut.model_validate(e, from_attributes=True) for e in theme.engineering
        ],
    )

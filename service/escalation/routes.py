"""HTTP routes of the escalation domain: escalate a theme, preview its package, follow its
engineering state, triage a record (API and the record's page)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from service.auth.sessions import CurrentUser
from service.auth.tokens import Principal
from service.deps import FeedbackReader, FeedbackWriter, SessionDep, SettingsDep
from service.escalation import inbound, service, triage, writeback
from service.escalation.models import EscalationState
from service.escalation.schemas import (
    EngineeringCommentOut,
    EscalationDetail,
    EscalationOut,
    JiraLinkOut,
    NoteOut,
    TriageOut,
)
from service.feedback.service import FeedbackNotFound
from service.render.pages import render_error, render_page
from service.themes import service as themes_service

router = APIRouter(prefix="/api/v1", tags=["escalation"])
pages_router = APIRouter(tags=["pages"])


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.user_id or principal.id}"


@router.post("/themes/{theme_id}/escalate")
def escalate(
    theme_id: str,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: FeedbackWriter,
) -> EscalationOut:
    """File (once) the theme's Jira issue: 202 while queued, 200 once it exists. Asking
    again returns the same escalation and key, never a second issue."""
    asked = service.request(session, theme_id=theme_id, actor=_actor(principal), settings=settings)
    queued = asked.escalation.state == EscalationState.QUEUED
    response.status_code = 202 if queued else 200
    return EscalationOut.of(asked.escalation)


@router.get("/themes/{theme_id}/escalation")
def get_escalation(theme_id: str, session: SessionDep, _: FeedbackReader) -> EscalationDetail:
    """Relay's issue, every linked issue with its state, the engineering timeline, the notes."""
    theme = themes_service.get(session, theme_id=theme_id)
    escalation = service.get(session, theme_id=theme.id)
    return EscalationDetail(
        theme_id=theme.id,
        theme_status=theme.status,
        escalation=EscalationOut.of(escalation) if escalation else None,
        links=[JiraLinkOut.of(link) for link in service.links(session, theme_id=theme.id)],
        engineering_timeline=[
            EngineeringCommentOut.of(c) for c in inbound.timeline(session, theme_id=theme.id)
        ],
        notes=[NoteOut.of(n) for n in writeback.notes_for_theme(session, theme_id=theme.id)],
    )


@router.get("/themes/{theme_id}/escalation-preview", response_class=PlainTextResponse)
def escalation_preview(theme_id: str, session: SessionDep, _: FeedbackReader) -> str:
    """The Jira issue description Relay would file now (Jira wiki markup, as text)."""
    return service.preview(session, theme_id=theme_id)


@router.get("/feedback/{feedback_id}/triage")
def triage_record(feedback_id: str, session: SessionDep, _: FeedbackReader) -> TriageOut:
    """What an analyst needs before replying or escalating (the reply is only a suggestion)."""
    return TriageOut.of(triage.assemble(session, feedback_id=feedback_id))


@pages_router.get("/feedback/{feedback_id}", response_class=HTMLResponse)
def record_page(
    request: Request, feedback_id: str, session: SessionDep, user: CurrentUser
) -> HTMLResponse:
    """One record with its triage section."""
    try:
        view = triage.assemble(session, feedback_id=feedback_id)
    except FeedbackNotFound:
        return render_error(request, status=404, title="No such record", message=feedback_id)
    return render_page(request, "feedback/detail.html", {"t": view, "r": view.record})

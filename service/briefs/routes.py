"""Briefs API (CONTRACT.md) and pages: the request form, the list and each brief's page.

Reading a brief through the API needs the same `briefs:write` scope as requesting one:
a brief is a Commercial document, and no read-only audience for it exists yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from service.auth.csrf import CsrfProtected
from service.auth.models import User
from service.auth.sessions import CurrentUser
from service.auth.tokens import Principal
from service.briefs import forms
from service.briefs import service as briefs_service
from service.briefs.compose import METHOD_LABELS
from service.briefs.models import Brief, BriefStatus
from service.briefs.recommend import CHANNEL_LABELS
from service.briefs.render import current_sources, preview_file
from service.briefs.schemas import (
    CHANNELS,
    SEGMENT_LABELS,
    SEGMENTS,
    BriefAccepted,
    BriefIn,
    BriefOut,
)
from service.config import Settings
from service.deps import BriefsWriter, SessionDep, SettingsDep
from service.render.pages import flash, redirect, render_error, render_page
from service.structuring.taxonomy import PAYMENT_METHODS

router = APIRouter(prefix="/api/v1/briefs", tags=["briefs"])
pages_router = APIRouter(tags=["pages"], include_in_schema=False)

REFRESH_SECONDS = 3  # how often a waiting brief's page reloads itself (no script needed)


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.user_id or principal.id}"


def _submit(
    session: Session, settings: Settings, *, request: BriefIn, owner_id: str | None, actor: str
) -> Brief:
    """Create the brief, or reuse the owner's identical one (regenerated if out of date)."""
    brief, created = briefs_service.create(
        session, request=request, owner_id=owner_id, requested_by=actor
    )
    if not created and _out_of_date(session, settings, brief):
        briefs_service.regenerate(session, brief=brief)
    return brief


def _out_of_date(session: Session, settings: Settings, brief: Brief) -> bool:
    if brief.status != BriefStatus.READY.value:
        return False
    current = current_sources(session, request=brief.request, settings=settings)
    return briefs_service.is_out_of_date(brief, current=current)


def _out(session: Session, settings: Settings, brief: Brief) -> BriefOut:
    return BriefOut(
        id=brief.id,
        status=briefs_service.display_status(session, brief=brief),
        pdf_url=briefs_service.pdf_url(brief),
        error=brief.error,
        version=brief.version,
        merchant_name=brief.merchant_name,
        recommended_channel=brief.recommended_channel,
        out_of_date=_out_of_date(session, settings, brief),
    )


def _pdf_response(settings: Settings, brief: Brief) -> FileResponse:
    if brief.status != BriefStatus.READY.value or not brief.pdf_path:
        raise briefs_service.BriefNotReady(
            f"brief {brief.id} is {brief.status}; its PDF is not ready",
            details={"status": brief.status},
        )
    path = Path(settings.data_dir) / brief.pdf_path
    if not path.is_file():
        raise briefs_service.BriefNotFound(f"the PDF of brief {brief.id} is missing; regenerate it")
    name = "".join(c if c.isalnum() else "-" for c in brief.merchant_name).strip("-").lower()
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=f"brief-{name or brief.id}-v{brief.version}.pdf",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


# ---------------------------------------------------------------- API


@router.post("", status_code=202)
def request_brief(
    data: BriefIn, session: SessionDep, settings: SettingsDep, principal: BriefsWriter
) -> BriefAccepted:
    """Request a solution brief; it renders in the worker (poll `GET /api/v1/briefs/{id}`)."""
    brief = _submit(
        session, settings, request=data, owner_id=principal.user_id, actor=_actor(principal)
    )
    return BriefAccepted(id=brief.id, status=briefs_service.display_status(session, brief=brief))


@router.get("/{brief_id}")
def get_brief(
    brief_id: str, session: SessionDep, settings: SettingsDep, principal: BriefsWriter
) -> BriefOut:
    """A brief's status, its PDF link once ready, and whether its sources changed since."""
    brief = briefs_service.visible_to_principal(session, brief_id=brief_id, principal=principal)
    return _out(session, settings, brief)


@router.get("/{brief_id}/pdf", response_class=FileResponse)
def get_brief_pdf(
    brief_id: str, session: SessionDep, settings: SettingsDep, principal: BriefsWriter
) -> FileResponse:
    """The PDF (409 `brief_not_ready` until it is)."""
    brief = briefs_service.visible_to_principal(session, brief_id=brief_id, principal=principal)
    return _pdf_response(settings, brief)


# ---------------------------------------------------------------- pages


def _forbidden(request: Request, user: User) -> HTMLResponse | None:
    if user.role in briefs_service.PAGE_ROLES:
        return None
    message = "Solution briefs are for Commercial. Ask an admin if you need access."
    return render_error(request, status=403, title="Not for your role", message=message)


def _form_page(
    request: Request, form: forms.BriefForm, errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    context = {
        "form": form,
        "errors": errors,
        "methods": [(m, METHOD_LABELS[m]) for m in PAYMENT_METHODS],
        "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        "segments": [(s, SEGMENT_LABELS[s]) for s in SEGMENTS],
    }
    return render_page(request, "briefs/new.html", context, status)


@pages_router.get("/briefs", response_class=HTMLResponse)
def briefs_page(
    request: Request, session: SessionDep, user: CurrentUser, q: str = ""
) -> HTMLResponse:
    """The user's briefs (everyone's for an admin), newest first, searchable."""
    if (refused := _forbidden(request, user)) is not None:
        return refused
    briefs = briefs_service.list_briefs(session, user=user, search=q.strip() or None)
    rows = [(b, briefs_service.display_status(session, brief=b)) for b in briefs]
    context = {"rows": rows, "q": q, "labels": CHANNEL_LABELS, "method_labels": METHOD_LABELS}
    return render_page(request, "briefs/list.html", context)


@pages_router.get("/briefs/new", response_class=HTMLResponse)
def new_brief_page(request: Request, user: CurrentUser) -> HTMLResponse:
    """The brief request form."""
    return _forbidden(request, user) or _form_page(request, forms.BriefForm(), {})


@pages_router.post("/briefs", response_model=None)
def submit_brief(
    request: Request,
    _csrf: CsrfProtected,  # before the user: a refused form never loads them
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    form: Annotated[forms.BriefForm, Form()],
) -> Response:
    """Validate the form: errors beside the fields, or the brief's page."""
    if (refused := _forbidden(request, user)) is not None:
        return refused
    parsed, errors = forms.parse(form)
    if parsed is None:
        return _form_page(request, form, errors, status=422)
    brief = _submit(session, settings, request=parsed, owner_id=user.id, actor=f"user:{user.id}")
    flash(request, f"Brief for {brief.merchant_name} requested.", level="success")
    return redirect(request, f"/briefs/{brief.id}")


@pages_router.get("/briefs/{brief_id}", response_class=HTMLResponse)
def brief_page(
    request: Request, brief_id: str, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> HTMLResponse:
    """Status (reloading while it waits), preview, PDF download and regenerate."""
    if (refused := _forbidden(request, user)) is not None:
        return refused
    brief = _visible(request, session, brief_id, user)
    if isinstance(brief, HTMLResponse):
        return brief
    status = briefs_service.display_status(session, brief=brief)
    context = {
        "brief": brief,
        "status": status,
        "out_of_date": _out_of_date(session, settings, brief),
        "preview": _preview(settings, brief),
        "labels": CHANNEL_LABELS,
        "method_labels": METHOD_LABELS,
        "refresh_seconds": REFRESH_SECONDS,
    }
    response = render_page(request, "briefs/detail.html", context)
    if status in (BriefStatus.QUEUED.value, BriefStatus.RENDERING.value):
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


def _visible(request: Request, session: Session, brief_id: str, user: User) -> Brief | HTMLResponse:
    """The brief, or the page saying it is not there (or not this user's)."""
    try:
        return briefs_service.visible_to_user(session, brief_id=brief_id, user=user)
    except briefs_service.BriefNotFound:
        message = f"There is no brief {brief_id} you can see. Open it from the list of briefs."
        return render_error(request, status=404, title="No such brief", message=message)


def _preview(settings: Settings, brief: Brief) -> Markup | None:
    if brief.status != BriefStatus.READY.value or not brief.fingerprint:
        return None
    path = preview_file(settings, brief.fingerprint)
    # Written by our autoescaping print templates (service/briefs/render.py), not by users.
    return Markup(path.read_text(encoding="utf-8")) if path.is_file() else None  # noqa: S704


@pages_router.get("/briefs/{brief_id}/pdf", response_model=None)
def brief_pdf_download(
    request: Request, brief_id: str, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    """The PDF, for the signed-in owner (or an admin)."""
    if (refused := _forbidden(request, user)) is not None:
        return refused
    try:
        brief = briefs_service.visible_to_user(session, brief_id=brief_id, user=user)
        return _pdf_response(settings, brief)
    except (briefs_service.BriefNotFound, briefs_service.BriefNotReady) as exc:
        return render_error(request, status=exc.status, title="No PDF", message=exc.message)


@pages_router.post("/briefs/{brief_id}/regenerate", response_model=None)
def regenerate_brief(
    request: Request, brief_id: str, _csrf: CsrfProtected, session: SessionDep, user: CurrentUser
) -> Response:
    """Queue a new version built from today's content and FAQs."""
    if (refused := _forbidden(request, user)) is not None:
        return refused
    brief = _visible(request, session, brief_id, user)
    if isinstance(brief, HTMLResponse):
        return brief
    if brief.status in (BriefStatus.READY.value, BriefStatus.FAILED.value):
        briefs_service.regenerate(session, brief=brief)
        flash(request, f"Version {brief.version} queued.", level="success")
    return redirect(request, f"/briefs/{brief.id}")

"""FAQ API (`/api/v1/faqs`), Markdown export, and the review pages (`/faqs`).

Who may do what: anyone signed in (or `feedback:read`) reads; cs, product and admin
people edit; only cs and admin people approve and publish (API tokens: the `admin`
scope, or a token of a cs/admin user).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from service.auth import users
from service.auth.csrf import CsrfProtected
from service.auth.sessions import CurrentUser
from service.auth.tokens import Principal
from service.db import new_id
from service.deps import FeedbackReader, FeedbackWriter, SessionDep, SettingsDep
from service.errors import RelayError
from service.faq import markdown as faq_markdown
from service.faq import service as faq_service
from service.faq.models import FaqEntry, FaqStatus
from service.faq.schemas import (
    FaqApprove,
    FaqDetail,
    FaqEdit,
    FaqList,
    FaqOut,
    FaqVersionList,
    FaqVersionOut,
    GenerateIn,
    GenerateOut,
)
from service.render.pages import flash, redirect, render_error, render_page
from service.structuring.taxonomy import ProductArea
from service.worker import jobs

router = APIRouter(prefix="/api/v1/faqs", tags=["faqs"])
pages_router = APIRouter(tags=["pages"], include_in_schema=False)

MARKDOWN = "text/markdown; charset=utf-8"
ListFormat = Literal["json", "markdown", "zip"]


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.user_id or principal.id}"


def _role(session: Session, principal: Principal) -> str | None:
    """The role an API caller acts with: admin for the admin scope, else its user's role."""
    if principal.has("admin"):
        return "admin"
    user = users.get_user(session, user_id=principal.user_id) if principal.user_id else None
    return user.role if user is not None else None


def _detail(session: Session, entry: FaqEntry) -> FaqDetail:
    current = faq_service.version(session, faq_id=entry.id)
    markdown = faq_markdown.document(faq_service.markdown_doc(entry, current))
    return FaqDetail(
        **FaqOut.of(entry).model_dump(),
        body=current.body,
        change_note=current.change_note,
        markdown=markdown,
    )


def _markdown_response(text: str, filename: str) -> Response:
    disposition = f'inline; filename="{filename}"'
    return PlainTextResponse(
        text, media_type=MARKDOWN, headers={"Content-Disposition": disposition}
    )


@router.get("", response_model=None)
def list_faqs(
    session: SessionDep,
    _: FeedbackReader,
    product_area: ProductArea | None = None,
    status: FaqStatus | None = None,
    format: ListFormat = "json",
) -> FaqList | Response:
    """Entries (filters: product area, status); `format=markdown|zip` exports them as a bundle."""
    if format != "json":
        docs = faq_service.export_docs(session, status=status.value if status else None)
        docs = [d for d in docs if product_area is None or product_area in d.applies_to]
        if format == "zip":
            headers = {"Content-Disposition": 'attachment; filename="faqs.zip"'}
            return Response(
                faq_markdown.bundle_zip(docs), media_type="application/zip", headers=headers
            )
        return _markdown_response(faq_markdown.bundle_text(docs), "faqs.md")
    entries = faq_service.list_entries(
        session, product_area=product_area, status=status.value if status else None
    )
    return FaqList(items=[FaqOut.of(e) for e in entries])


@router.post("/generate", status_code=202)
def generate_faqs(
    session: SessionDep, _: FeedbackWriter, data: GenerateIn | None = None
) -> GenerateOut:
    """Queue a generation job (worker): one entry per qualifying theme, new versions if changed."""
    theme_ids = sorted(set(data.theme_ids)) if data and data.theme_ids else None
    # Every request is its own job (generation itself is idempotent: unchanged drafts add
    # no version), so a later request never finds an old, already handled job.
    job = jobs.enqueue(
        session,
        task=faq_service.GENERATE_TASK,
        key=new_id("faq.generate"),
        payload={"theme_ids": theme_ids},
    )
    return GenerateOut(job_id=job.id, status=job.status)


@router.get("/{faq_id}.md", response_class=PlainTextResponse)
def faq_markdown_file(
    faq_id: str,
    session: SessionDep,
    _: FeedbackReader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """One entry as a Markdown document (current version, or `version`)."""
    return _markdown_of(session, faq_id, version)


def _markdown_of(session: Session, faq_id: str, number: int | None) -> Response:
    entry = faq_service.get(session, faq_id=faq_id)
    doc = faq_service.markdown_doc(
        entry, faq_service.version(session, faq_id=faq_id, number=number)
    )
    return _markdown_response(faq_markdown.document(doc), faq_markdown.file_name(doc))


@router.get("/{faq_id}", response_model=None)
def get_faq(
    faq_id: str,
    session: SessionDep,
    _: FeedbackReader,
    format: Literal["json", "markdown"] = "json",
) -> FaqDetail | Response:
    """One entry with its current text (`format=markdown`: the Markdown document)."""
    if format == "markdown":
        return _markdown_of(session, faq_id, None)
    return _detail(session, faq_service.get(session, faq_id=faq_id))


@router.get("/{faq_id}/versions")
def faq_versions(faq_id: str, session: SessionDep, _: FeedbackReader) -> FaqVersionList:
    """Every version, newest first, each with author, time, diff and what changed."""
    found = faq_service.versions(session, faq_id=faq_id)
    return FaqVersionList(items=[FaqVersionOut.of(v) for v in found])


@router.patch("/{faq_id}")
def edit_faq(
    faq_id: str, data: FaqEdit, session: SessionDep, principal: FeedbackWriter
) -> FaqDetail:
    """Edit the question and body: a new version, back to draft for review."""
    faq_service.edit(
        session,
        faq_id=faq_id,
        question=data.question,
        body=data.body,
        actor=_actor(principal),
        role=_role(session, principal),
    )
    return _detail(session, faq_service.get(session, faq_id=faq_id))


@router.post("/{faq_id}/approve")
def approve_faq(
    faq_id: str, session: SessionDep, principal: FeedbackWriter, data: FaqApprove | None = None
) -> FaqDetail:
    """Approve the current version (cs/admin)."""
    entry = faq_service.approve(
        session,
        faq_id=faq_id,
        actor=_actor(principal),
        role=_role(session, principal),
        number=data.version if data else None,
    )
    return _detail(session, entry)


@router.post("/{faq_id}/publish")
def publish_faq(
    faq_id: str, session: SessionDep, settings: SettingsDep, principal: FeedbackWriter
) -> FaqDetail:
    """Publish the approved current version (cs/admin); 409 when it is not approved."""
    entry = faq_service.publish(
        session,
        faq_id=faq_id,
        actor=_actor(principal),
        role=_role(session, principal),
        settings=settings,
    )
    return _detail(session, entry)


# ---------------------------------------------------------------- pages


@pages_router.get("/faqs", response_class=HTMLResponse)
def faqs_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    product_area: ProductArea | None = None,
    status: FaqStatus | None = None,
) -> HTMLResponse:
    """Drafts and stale entries to review first, then every entry."""
    entries = faq_service.list_entries(
        session, product_area=product_area, status=status.value if status else None
    )
    to_review = [e for e in entries if e.status in (FaqStatus.DRAFT, FaqStatus.STALE)]
    context = {
        "to_review": to_review,
        "entries": entries,
        "product_area": product_area,
        "status": status.value if status else None,
        "statuses": [s.value for s in FaqStatus],
    }
    return render_page(request, "faq/list.html", context)


@pages_router.get("/faqs/{faq_id}", response_class=HTMLResponse)
def faq_page(request: Request, faq_id: str, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """One entry: its text, why it is stale, what changed, versions with diffs, review actions."""
    entry = session.get(FaqEntry, faq_id)
    if entry is None:
        return render_error(request, status=404, title="No such FAQ entry", message=faq_id)
    current = faq_service.version(session, faq_id=faq_id)
    context = {
        "entry": entry,
        "current": current,
        "html": Markup(faq_markdown.html(current.body)),  # noqa: S704 - markdown-it escapes raw HTML
        "versions": faq_service.versions(session, faq_id=faq_id),
        "can_edit": user.role in faq_service.EDITOR_ROLES,
        "can_review": user.role in faq_service.REVIEWER_ROLES,
    }
    return render_page(request, "faq/detail.html", context)


def _page_action(request: Request, faq_id: str, done: str, action: object) -> Response:
    try:
        if callable(action):
            action()
        flash(request, done, level="success")
    except RelayError as exc:
        flash(request, exc.message[:1].upper() + exc.message[1:] + ".", level="error")
    return redirect(request, f"/faqs/{faq_id}")


@pages_router.post("/faqs/{faq_id}/edit")
def edit_page(
    request: Request,
    faq_id: str,
    session: SessionDep,
    _csrf: CsrfProtected,  # before the user: a refused form never loads one
    user: CurrentUser,
    question: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
) -> Response:
    """Save a person's edit as a new version."""
    return _page_action(
        request,
        faq_id,
        "Saved as a new version; it needs approval before it is published",
        lambda: faq_service.edit(
            session,
            faq_id=faq_id,
            question=question,
            body=body,
            actor=f"user:{user.id}",
            role=user.role,
        ),
    )


@pages_router.post("/faqs/{faq_id}/approve")
def approve_page(
    request: Request,
    faq_id: str,
    session: SessionDep,
    _csrf: CsrfProtected,  # before the user: a refused form never loads one
    user: CurrentUser,
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """Approve the version the reviewer saw."""
    return _page_action(
        request,
        faq_id,
        "Approved",
        lambda: faq_service.approve(
            session, faq_id=faq_id, actor=f"user:{user.id}", role=user.role, number=version
        ),
    )


@pages_router.post("/faqs/{faq_id}/publish")
def publish_page(
    request: Request,
    faq_id: str,
    session: SessionDep,
    settings: SettingsDep,
    _csrf: CsrfProtected,  # before the user: a refused form never loads one
    user: CurrentUser,
) -> Response:
    """Publish the approved version."""
    return _page_action(
        request,
        faq_id,
        "Published",
        lambda: faq_service.publish(
            session, faq_id=faq_id, actor=f"user:{user.id}", role=user.role, settings=settings
        ),
    )

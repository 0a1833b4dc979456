"""The Product digest: the newest one over the API (JSON, HTML, PDF) and as a page."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup

from service.auth.sessions import CurrentUser
from service.config import Settings
from service.deps import FeedbackReader, SessionDep, SettingsDep
from service.digest import service as digest_service
from service.digest.models import Digest
from service.render import pdf
from service.render.pages import TEMPLATES_DIR, render_page

router = APIRouter(prefix="/api/v1/digests", tags=["digests"])
pages_router = APIRouter(tags=["pages"])

STYLESHEET = TEMPLATES_DIR / "digest" / "digest.css"


class DigestFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    PDF = "pdf"


def _body(digest: Digest) -> Markup:
    # Rendered by our autoescaping template when the digest was generated, then stored.
    return Markup(digest.html)  # noqa: S704


def _pdf(settings: Settings, digest: Digest) -> FileResponse:
    return FileResponse(
        digest_service.pdf_file(settings, digest),
        media_type="application/pdf",
        filename=f"relay-digest-{digest.period}-{digest.range_end:%Y-%m-%d}.pdf",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


def _json(digest: Digest) -> dict[str, Any]:
    return {
        "id": digest.id,
        "period": digest.period,
        "range_start": digest.range_start.isoformat(),
        "range_end": digest.range_end.isoformat(),
        "created_at": digest.created_at.isoformat(),
        "created_by": digest.created_by,
        "html_url": "/api/v1/digests/latest?format=html",
        "pdf_url": "/api/v1/digests/latest?format=pdf",
        "summary": digest.summary,
    }


@router.get("/latest", response_model=None)
def latest_digest(
    session: SessionDep,
    settings: SettingsDep,
    _: FeedbackReader,
    fmt: Annotated[DigestFormat, Query(alias="format")] = DigestFormat.JSON,
) -> dict[str, Any] | Response:
    """The newest digest: its figures (json), the page as one HTML file (html), or the PDF."""
    digest = digest_service.latest(session)
    if fmt is DigestFormat.PDF:
        return _pdf(settings, digest)
    if fmt is DigestFormat.HTML:
        html = pdf.render_html(
            "digest/standalone.html", {"title": digest.summary["title"], "body": _body(digest)}
        )
        return HTMLResponse(html, headers={"Cache-Control": "private, no-store"})
    return _json(digest)


# ---------------------------------------------------------------- pages


@pages_router.get("/digests/latest", response_class=HTMLResponse)
def digest_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The newest digest, readable without JavaScript; a link to its PDF."""
    try:
        digest = digest_service.latest(session)
    except digest_service.DigestNotFound:
        return render_page(request, "digest/empty.html")
    return render_page(request, "digest/page.html", {"digest": digest, "body": _body(digest)})


@pages_router.get("/digests/latest.pdf")
def digest_page_pdf(session: SessionDep, settings: SettingsDep, user: CurrentUser) -> FileResponse:
    """The newest digest's PDF, for a signed-in user."""
    return _pdf(settings, digest_service.latest(session))


@pages_router.get("/digests/digest.css")
def digest_stylesheet() -> FileResponse:
    """The digest's stylesheet (pages allow no inline styles; the PDF bundles the same file)."""
    return FileResponse(STYLESHEET, media_type="text/css")

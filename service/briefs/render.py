"""From a queued brief to a stored PDF: compose, render in the pool, store by content hash.

The PDF is stored as `RELAY_DATA_DIR/briefs/<fingerprint>.pdf`, where the fingerprint is
the sha256 of the request and of the brief's composed body. Two briefs that would show
the same thing share one file, and the second costs no rendering at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from service.briefs.compose import compose, relevant_faqs, source_versions, used_documents
from service.briefs.content import BriefContent, brief_content
from service.briefs.models import Brief
from service.briefs.pool import PoolLimits, RenderJob, pool_for
from service.briefs.recommend import recommend
from service.briefs.schemas import BriefIn
from service.config import Settings
from service.content.library import library_for
from service.render.pdf import PdfMetadata, render_html

log = logging.getLogger("relay.briefs")

AUTHOR = "Relay · Customer Success"
FOLDER = "briefs"


@dataclass(frozen=True)
class Outcome:
    """What rendering one brief version produced (a stored PDF, or an error)."""

    brief_id: str
    version: int
    fingerprint: str | None = None
    pdf_path: str | None = None  # relative to the data dir
    pages: int | None = None
    sources: dict[str, Any] | None = None
    channel: str | None = None
    error: str | None = None
    transient: bool = False


@dataclass(frozen=True)
class _Prepared:
    brief: Brief
    fingerprint: str
    body: str
    html: str
    metadata: PdfMetadata
    sources: dict[str, Any]
    channel: str


def content_for(settings: Settings) -> BriefContent:
    """The content library the settings point at, indexed for briefs."""
    return brief_content(library_for(settings.brief_library_dir))


def limits(settings: Settings) -> PoolLimits:
    return PoolLimits(
        processes=settings.brief_render_processes,
        memory_mb=settings.brief_render_memory_mb,
        timeout_seconds=settings.brief_render_timeout_seconds,
    )


def render_briefs(session: Session, *, briefs: list[Brief], settings: Settings) -> list[Outcome]:
    """Render `briefs` (in parallel, in the pool) and store their PDFs; one outcome each.

    Reads only: the caller records the outcomes (the worker, in its write transaction).
    """
    content = content_for(settings)
    outcomes: dict[str, Outcome] = {}
    todo: list[_Prepared] = []
    for brief in briefs:
        try:
            prepared = _prepare(session, brief=brief, content=content)
        except Exception as exc:  # a composition bug must fail the brief, visibly
            log.exception("brief composition failed", extra={"brief_id": brief.id})
            outcomes[brief.id] = Outcome(brief.id, brief.version, error=f"composition: {exc}")
            continue
        if stored_pdf(settings, prepared.fingerprint).exists():
            outcomes[brief.id] = _stored(prepared, pages=None, settings=settings)
        else:
            todo.append(prepared)
    jobs = [RenderJob(p.html, p.metadata) for p in todo]
    for prepared, result in zip(todo, pool_for(limits(settings)).render(jobs), strict=True):
        if result.pdf is None:
            outcomes[prepared.brief.id] = Outcome(
                prepared.brief.id,
                prepared.brief.version,
                error=result.error,
                transient=result.transient,
            )
            continue
        _write(stored_pdf(settings, prepared.fingerprint), result.pdf.data)
        _write(preview_file(settings, prepared.fingerprint), prepared.body.encode())
        outcomes[prepared.brief.id] = _stored(prepared, pages=result.pdf.pages, settings=settings)
    return [outcomes[b.id] for b in briefs]


def _prepare(session: Session, *, brief: Brief, content: BriefContent) -> _Prepared:
    request = BriefIn.model_validate(brief.request)
    view = compose(session, request=request, content=content)
    body = render_html("briefs/content.html", {"brief": view})
    generated_on = datetime.now(UTC)
    html = render_html(
        "briefs/pdf.html",
        {
            "brief": view,
            "content": Markup(body),  # noqa: S704 - rendered by the autoescaping environment
            "version": brief.version,
            "generated_on": generated_on.date().isoformat(),
            "author": AUTHOR,
        },
    )
    metadata = PdfMetadata(
        title=f"Solution brief: {request.merchant_name}",
        author=AUTHOR,
        subject=f"{view.recommendation.label}; {', '.join(view.method_labels)}",
        created=generated_on,
    )
    faqs = relevant_faqs(session, request=request, channel=view.recommendation.channel)
    documents = used_documents(request, content, view.recommendation.channel)
    return _Prepared(
        brief=brief,
        fingerprint=fingerprint(brief.request, body),
        body=body,
        html=html,
        metadata=metadata,
        sources=source_versions(documents, faqs),
        channel=view.recommendation.channel,
    )


def current_sources(
    session: Session, *, request: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The sources a brief for `request` would rely on today (to compare with a stored one)."""
    content = content_for(settings)
    parsed = BriefIn.model_validate(request)
    channel = recommend(parsed).channel
    faqs = relevant_faqs(session, request=parsed, channel=channel)
    return source_versions(used_documents(parsed, content, channel), faqs)


def fingerprint(request: dict[str, Any], body: str) -> str:
    """sha256 of what the PDF shows: the request and the composed body."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{canonical}\n{body}".encode()).hexdigest()


def stored_pdf(settings: Settings, fingerprint: str) -> Path:
    return Path(settings.data_dir) / FOLDER / f"{fingerprint}.pdf"


def preview_file(settings: Settings, fingerprint: str) -> Path:
    return Path(settings.data_dir) / FOLDER / f"{fingerprint}.html"


def _stored(prepared: _Prepared, *, pages: int | None, settings: Settings) -> Outcome:
    if not preview_file(settings, prepared.fingerprint).exists():
        _write(preview_file(settings, prepared.fingerprint), prepared.body.encode())
    return Outcome(
        brief_id=prepared.brief.id,
        version=prepared.brief.version,
        fingerprint=prepared.fingerprint,
        pdf_path=f"{FOLDER}/{prepared.fingerprint}.pdf",
        pages=pages,
        sources=prepared.sources,
        channel=prepared.channel,
    )


def _write(path: Path, data: bytes) -> None:
    # Whole or not at all: readers never see half a PDF, and equal files may race safely.
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    temp.write_bytes(data)
    os.replace(temp, path)

"""FAQ documents for agents over HTTP: the FAQ digest, and per product area the one-page
quick-reference card and the training module, as PDF (and as HTML, for previews).

Building a document reads the database and rendering it runs WeasyPrint: both block, so
both run in a worker thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from service.deps import FeedbackReader, SessionDep
from service.faq import documents
from service.faq.documents import Printable
from service.render.pages import PAGE_HEADERS
from service.structuring.taxonomy import ProductArea

router = APIRouter(tags=["faq documents"])

AREA_PATH = "/api/v1/product-areas/{area}"


async def _pdf(build: Callable[[], Printable]) -> Response:
    def work() -> tuple[Printable, bytes]:
        printable = build()
        return printable, printable.pdf()

    printable, body = await run_in_threadpool(work)
    headers = {
        "Content-Disposition": f'inline; filename="{printable.filename}"',
        "Cache-Control": "no-store",
    }
    return Response(body, media_type="application/pdf", headers=headers)


async def _html(build: Callable[[], Printable]) -> HTMLResponse:
    html = await run_in_threadpool(lambda: build().html())
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/api/v1/faqs/digest.pdf", response_class=Response)
async def digest_pdf(
    session: SessionDep, _: FeedbackReader, product_area: ProductArea | None = None
) -> Response:
    """Every published FAQ entry (or one area's), grouped by product area, as a PDF."""
    return await _pdf(partial(documents.printable_digest, session, product_area=product_area))


@router.get("/api/v1/faqs/digest.html", response_class=HTMLResponse)
async def digest_html(
    session: SessionDep, _: FeedbackReader, product_area: ProductArea | None = None
) -> HTMLResponse:
    """The FAQ digest as print HTML (preview)."""
    return await _html(partial(documents.printable_digest, session, product_area=product_area))


@router.get(f"{AREA_PATH}/quick-reference.pdf", response_class=Response)
async def quick_reference_pdf(area: str, session: SessionDep, _: FeedbackReader) -> Response:
    """The area's one-page quick-reference card for frontline agents, as a PDF."""
    return await _pdf(partial(documents.printable_quick_reference, session, area=area))


@router.get(f"{AREA_PATH}/quick-reference.html", response_class=HTMLResponse)
async def quick_reference_html(area: str, session: SessionDep, _: FeedbackReader) -> HTMLResponse:
    """The quick-reference card as print HTML (preview)."""
    return await _html(partial(documents.printable_quick_reference, session, area=area))


@router.get(f"{AREA_PATH}/training.pdf", response_class=Response)
async def training_pdf(area: str, session: SessionDep, _: FeedbackReader) -> Response:
    """The area's training module (basics, error patterns, checks, quiz), as a PDF."""
    return await _pdf(partial(documents.printable_training, session, area=area))


@router.get(f"{AREA_PATH}/training.html", response_class=HTMLResponse)
async def training_html(area: str, session: SessionDep, _: FeedbackReader) -> HTMLResponse:
    """The training module as print HTML (preview)."""
    return await _html(partial(documents.printable_training, session, area=area))

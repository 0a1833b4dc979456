"""Exports API: streamed feedback and themes (CSV, NDJSON, JSON), their schemas."""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from service.auth.tokens import Principal
from service.db import Database, utcnow
from service.deps import DatabaseDep, get_principal, require
from service.exports import service as exports_service
from service.exports.schemas import MEDIA_TYPES, ExportFormat, json_schema
from service.feedback.service import FeedbackFilters
from service.structuring.taxonomy import Category, PaymentMethod, ProductArea
from service.themes.models import ThemeStatus
from service.themes.service import ThemeFilters

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
pages_router = APIRouter()

SCOPE = "export:read"


def export_principal(request: Request, database: DatabaseDep) -> Principal:
    """The caller, checked in a short transaction of its own.

    Not `ExportReader`: its request-scoped session would stay open (and, on SQLite, hold
    the one writer) until the whole stream is sent.
    """
    with database.session() as session:
        principal = get_principal(request, session)
    return require(SCOPE)(principal)


ExportCaller = Annotated[Principal, Depends(export_principal)]
FormatQuery = Annotated[ExportFormat, Query(alias="format")]
BomQuery = Annotated[bool, Query(description="UTF-8 byte order mark, for Excel (CSV only)")]
SinceQuery = Annotated[
    str | None,
    Query(max_length=200, description="records changed after this ISO 8601 time or cursor"),
]


def actor_of(principal: Principal) -> str:
    """Who, for the audit log: the token or session, and the user behind it."""
    user = f" user:{principal.user_id}" if principal.user_id else ""
    return f"{principal.kind}:{principal.id}{user}"


def feedback_filters(
    source: Annotated[str | None, Query(max_length=20)] = None,
    product_area: ProductArea | None = None,
    payment_method: PaymentMethod | None = None,
    category: Category | None = None,
    theme_id: Annotated[str | None, Query(max_length=40)] = None,
    merchant_id: Annotated[str | None, Query(max_length=120)] = None,
    since: SinceQuery = None,
    until: Annotated[datetime | None, Query(description="records changed before")] = None,
) -> exports_service.FeedbackExport:
    """The feedback list's filters; `since`/`until` bound the time of last change."""
    filters = FeedbackFilters(
        source=source,
        product_area=product_area,
        payment_method=payment_method,
        category=category,
        theme_id=theme_id,
        merchant_id=merchant_id,
    )
    position = exports_service.decode_since(since) if since else None
    return exports_service.FeedbackExport(filters=filters, since=position, until=until)


def theme_filters(
    product_area: ProductArea | None = None,
    status: ThemeStatus | None = None,
    category: Category | None = None,
    min_records: Annotated[int, Query(ge=0, le=10_000)] = 1,
    since: SinceQuery = None,
) -> exports_service.ThemeExport:
    """The theme list's filters, and `since` on the time of last change."""
    filters = ThemeFilters(
        product_area=product_area,
        status=status.value if status else None,
        category=category,
        min_records=min_records,
    )
    position = exports_service.decode_since(since) if since else None
    return exports_service.ThemeExport(filters=filters, since=position)


@router.get("/feedback/schema")
def feedback_schema(_: ExportCaller) -> JSONResponse:
    """The JSON Schema of one exported record, with the CSV column order."""
    return JSONResponse(json_schema("feedback"), media_type="application/schema+json")


@router.get("/themes/schema")
def themes_schema(_: ExportCaller) -> JSONResponse:
    """The JSON Schema of one exported theme, with the CSV column order."""
    return JSONResponse(json_schema("themes"), media_type="application/schema+json")


@router.get("/feedback")
def export_feedback(
    request: Request,
    database: DatabaseDep,
    principal: ExportCaller,
    export: Annotated[exports_service.FeedbackExport, Depends(feedback_filters)],
    fmt: FormatQuery = ExportFormat.CSV,
    bom: BomQuery = False,
) -> Response:
    """Every record matching the filters, streamed; `If-None-Match` answers 304."""
    wanted = exports_service.ExportRequest(
        resource="feedback",
        fmt=fmt,
        bom=bom,
        actor=actor_of(principal),
        channel="api",
        feedback=export,
    )
    return _respond(request, database, wanted, export.since)


@router.get("/themes")
def export_themes(
    request: Request,
    database: DatabaseDep,
    principal: ExportCaller,
    export: Annotated[exports_service.ThemeExport, Depends(theme_filters)],
    fmt: FormatQuery = ExportFormat.CSV,
    bom: BomQuery = False,
) -> Response:
    """Live themes ranked by impact, streamed; `If-None-Match` answers 304."""
    wanted = exports_service.ExportRequest(
        resource="themes",
        fmt=fmt,
        bom=bom,
        actor=actor_of(principal),
        channel="api",
        themes=export,
    )
    return _respond(request, database, wanted, export.since)


def _respond(
    request: Request,
    database: Database,
    wanted: exports_service.ExportRequest,
    since: exports_service.Position | None,
) -> Response:
    prepared = exports_service.prepare(
        database,
        wanted,
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=_http_date(request.headers.get("if-modified-since")),
    )
    headers = _headers(prepared, wanted, since)
    if prepared.body is None:
        return Response(status_code=304, headers=headers)
    return StreamingResponse(
        _in_threads(prepared.body), media_type=MEDIA_TYPES[wanted.fmt], headers=headers
    )


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date header as a UTC time; an invalid one is ignored (RFC 9110 §13.1.3)."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _headers(
    prepared: exports_service.Prepared,
    wanted: exports_service.ExportRequest,
    since: exports_service.Position | None,
) -> dict[str, str]:
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "ETag": prepared.etag,
        "Cache-Control": "private, no-cache",
        "X-Relay-Export-Id": prepared.audit_id,
        "X-Relay-Total-Rows": str(prepared.snapshot.count),
        "Content-Disposition": (
            f'attachment; filename="relay-{wanted.resource}-{stamp}.{wanted.fmt.value}"'
        ),
    }
    modified = exports_service.last_modified(prepared.snapshot)
    if modified is not None:
        headers["Last-Modified"] = email.utils.format_datetime(modified, usegmt=True)
    next_since = prepared.snapshot.next_since(since)
    if next_since is not None:
        headers["X-Relay-Next-Since"] = next_since
    return headers


async def _in_threads(body: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Iterate the blocking body in worker threads; close it (and its session) however
    the response ends, the client going away included."""
    try:
        async for chunk in iterate_in_threadpool(body):
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(body.close)

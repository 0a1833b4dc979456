"""Webhooks in: verify on raw bytes, redact, store durably, then acknowledge."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send

from integrations.contracts import InvalidSignature
from integrations.registry import SOURCES
from service.config import Settings
from service.errors import (
    InternalError,
    NotFound,
    PayloadTooLarge,
    RelayError,
    SourceNotConfigured,
    StorageUnavailable,
    UnsupportedMediaType,
)
from service.inbox import service as inbox_service
from service.inbox.writer import InboxWriter, NewEvent
from service.metrics import WEBHOOK_DELIVERIES

log = logging.getLogger("relay.webhooks")
router = APIRouter(tags=["webhooks"])


def _secret(settings: Settings, source: str) -> str:
    configured: SecretStr | None = {
        "zendesk": settings.zendesk_webhook_secret,
        "jira": settings.jira_webhook_secret,
        "intercom": settings.intercom_client_secret,
        "freshdesk": settings.freshdesk_webhook_token,
    }[source]
    if configured is None or not configured.get_secret_value():
        raise SourceNotConfigured(f"the {source} webhook is not configured on this Relay")
    return configured.get_secret_value()


def _check_json(headers: Mapping[str, str]) -> None:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType("send the webhook as application/json")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/{source}", status_code=202)
async def receive_webhook(source: str, request: Request) -> JSONResponse:
    """Store one vendor delivery durably; 202 (new) or 200 (duplicate) only after commit."""
    vendor = SOURCES.get(source)
    if vendor is None:
        raise NotFound(f"no webhook source named {source!r}")
    settings: Settings = request.app.state.settings
    secret = _secret(settings, source)
    headers = {k.lower(): v for k, v in request.headers.items()}
    _check_json(headers)
    body = await _read_body(request, settings.webhook_max_body_bytes)
    try:
        vendor.verify(body, headers, secret, tolerance_seconds=settings.webhook_tolerance_seconds)
    except InvalidSignature as exc:
        WEBHOOK_DELIVERIES.labels(source, "rejected").inc()
        log.warning("webhook rejected", extra={"source": source, "reason": str(exc)})
        return JSONResponse(
            {"error": {"code": "invalid_signature", "message": str(exc), "details": None}},
            status_code=401,
        )
    return await _store(
        request.app.state.inbox_writer, inbox_service.received_event(vendor, body, headers)
    )


async def _store(writer: InboxWriter, event: NewEvent) -> JSONResponse:
    try:
        stored = await writer.store(event)
    except Exception as exc:
        WEBHOOK_DELIVERIES.labels(event.source, "error").inc()
        raise StorageUnavailable("storage is unavailable; the sender should retry") from exc
    outcome = "duplicate" if stored.duplicate else "accepted"
    WEBHOOK_DELIVERIES.labels(event.source, outcome).inc()
    return JSONResponse(
        {"id": stored.id, "duplicate": stored.duplicate},
        status_code=200 if stored.duplicate else 202,
    )


WEBHOOK_PREFIX = "/webhooks/"


class _WebhookRoute:
    """What the metrics middleware reads from `scope["route"]` for fast-path requests."""

    path = "/webhooks/{source}"


async def webhook_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """`POST /webhooks/{source}` as a bare ASGI endpoint (see `service.app.RelayApp`).

    Webhook deliveries are the one high-volume path, and FastAPI's layers (telemetry,
    body limit, error middleware, routing against every route, dependencies) cost more
    than storing the event. The handler, its errors and its answers are the very same as
    through the router, which still serves the route for the OpenAPI schema.
    """
    source: str = scope["path_params"]["source"]  # set by RelayApp, which routed it here
    scope["route"] = _WebhookRoute
    try:
        response = await receive_webhook(source, Request(scope, receive))
    except RelayError as exc:
        response = JSONResponse(exc.to_body(), status_code=exc.status)
    except Exception:
        # Outside FastAPI's error middleware: answer in Relay's error shape ourselves.
        log.exception("webhook failed", extra={"source": source})
        error = InternalError("internal error: the delivery was not stored; send it again")
        response = JSONResponse(error.to_body(), status_code=error.status)
    await response(scope, receive, send)


def webhook_source(scope: Scope) -> str | None:
    """The source of a `POST /webhooks/{source}` request, else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not path.startswith(WEBHOOK_PREFIX):
        return None
    source = path[len(WEBHOOK_PREFIX) :]
    return source if source and "/" not in source else None

"""The FastAPI application: lifespan (database, inbox writer, worker), errors, middleware."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import ops
from service.auth import routes as auth_routes
from service.auth import tokens
from service.briefs import routes as briefs_routes
from service.config import Settings, get_settings
from service.db import Database
from service.digest import routes as digest_routes
from service.errors import RelayError
from service.escalation import routes as escalation_routes
from service.exports import routes as exports_routes
from service.faq import document_routes as faq_document_routes
from service.faq import routes as faq_routes
from service.feedback import classify as classify_routes
from service.feedback import routes as feedback_routes
from service.inbox import admin_routes as inbox_admin_routes
from service.inbox import routes as inbox_routes
from service.inbox.writer import InboxWriter
from service.logs import configure_logging, request_id_var
from service.metrics import HTTP_REQUESTS
from service.outbound import routes as outbound_routes
from service.themes import routes as themes_routes
from service.worker.runner import WorkerThread

log = logging.getLogger("relay.app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.db = Database(settings.database_url)
    app.state.inbox_writer = InboxWriter(app.state.db)
    _announce_admin_token(app.state.db, settings)
    if app.state.load_model:
        # Imported here: scikit-learn is most of a process's memory, and an API started
        # without the model (exports, reads) should not carry it.
        from service.feedback import learning

        # Trained on first start when missing (a few seconds), so records are labelled
        # from the first event on.
        await asyncio.to_thread(learning.load_classifier, app.state.db, settings)
    worker = (
        WorkerThread(app.state.db, settings, yield_to=app.state.inbox_writer.queueing)
        if app.state.run_worker
        else None
    )
    if worker is not None:
        worker.start()
    try:
        yield
    finally:
        # Graceful: stop taking requests' events, finish the event in hand, then close.
        app.state.inbox_writer.close()
        if worker is not None:
            worker.stop()
        app.state.db.dispose()


def _announce_admin_token(database: Database, settings: Settings) -> None:
    configured = settings.admin_token.get_secret_value() if settings.admin_token else None
    try:
        with database.session() as session:
            clear = tokens.ensure_admin_token(session, configured=configured)
    except (OperationalError, DBAPIError):
        log.warning("database not migrated or unreachable; run `relay migrate`")
        return
    if clear:
        # Printed once, on the first start; only its hash is stored.
        print(f"\n  Relay admin token (shown once): {clear}\n", flush=True)


def create_app(
    settings: Settings | None = None, *, run_worker: bool = False, load_model: bool = True
) -> FastAPI:
    """Build the app; `run_worker` also runs the inbox worker in this process."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)
    app = RelayApp(title="Relay", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.run_worker = run_worker
    app.state.load_model = load_model
    _add_error_handlers(app)
    auth_routes.install_page_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for router in (
        ops.router,
        auth_routes.router,
        inbox_routes.router,
        inbox_admin_routes.router,
        feedback_routes.router,
        classify_routes.router,
        themes_routes.router,
        themes_routes.pages_router,
        escalation_routes.router,
        escalation_routes.pages_router,
        # Before the FAQ router: `/api/v1/faqs/digest.pdf` is not an entry id.
        faq_document_routes.router,
        faq_routes.router,
        faq_routes.pages_router,
        briefs_routes.router,
        briefs_routes.pages_router,
        exports_routes.router,
        digest_routes.router,
        digest_routes.pages_router,
        outbound_routes.router,
    ):
        app.include_router(router)
    return app


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "merchant", "id")` → `merchant.id`; query and path keep their prefix."""
    parts = [str(p) for p in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RelayError)
    async def relay_error(_: Request, exc: RelayError) -> JSONResponse:
        return JSONResponse(exc.to_body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": _field_name(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        fields = ", ".join(d["field"] or "body" for d in details)
        return _error(422, "validation_error", f"invalid request: {fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def storage_error(_: Request, exc: Exception) -> JSONResponse:
        log.error("storage unavailable", extra={"error": str(exc).splitlines()[0]})
        return _error(503, "storage_unavailable", "storage is unavailable; retry later")


# Request ids need to be unique, not secret: a per-process random prefix and a counter
# avoid a system call for randomness on every request.
_REQUEST_ID_PREFIX = uuid.uuid4().hex[:12]
_request_counter = itertools.count(1)


def _next_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter):012x}"


class RelayApp(FastAPI):
    """FastAPI, with webhook deliveries taken before its middleware stack.

    Deliveries get the request id and metrics of every request and go straight to
    `inbox_routes.webhook_endpoint`; everything else (lifespan included) is FastAPI's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._webhooks = RequestContextMiddleware(inbox_routes.webhook_endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = inbox_routes.webhook_source(scope)
        if source is not None:
            scope["app"], scope["path_params"] = self, {"source": source}
            await self._webhooks(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class RequestContextMiddleware:
    """Request id in and out (X-Request-ID), and latency metrics per route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode()[:64] or _next_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(path, f"{status // 100}xx").observe(time.perf_counter() - started)
            request_id_var.reset(token)


app = create_app()

"""Request dependencies as `Annotated` aliases; tests swap them with dependency_overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.auth import tokens
from service.auth.tokens import Principal
from service.config import Settings
from service.db import Database
from service.errors import NotAuthenticated, ScopeMissing


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """One transaction per request, committed once when the handler succeeds."""
    with database.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    return value.strip()


def get_principal(request: Request, session: SessionDep) -> Principal:
    """The caller behind the bearer token (401 when missing, unknown or revoked)."""
    token = _bearer(request)
    # The request's own transaction: one unit of work (and, on SQLite, one turn at the lock).
    principal = tokens.authenticate(session, token=token)
    if principal is None:
        raise NotAuthenticated("unknown or revoked token")
    request.state.principal = principal
    return principal


def require(scope: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only principals holding `scope` (or `admin`)."""

    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has(scope):
            raise ScopeMissing(f"this call needs the {scope!r} scope", details={"scope": scope})
        return principal

    return check


FeedbackReader = Annotated[Principal, Depends(require("feedback:read"))]
FeedbackWriter = Annotated[Principal, Depends(require("feedback:write"))]
ExportReader = Annotated[Principal, Depends(require("export:read"))]
BriefsWriter = Annotated[Principal, Depends(require("briefs:write"))]
AdminPrincipal = Annotated[Principal, Depends(require("admin"))]

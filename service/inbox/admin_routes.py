"""Admin API over the inbox: list, inspect and replay events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from service.deps import AdminPrincipal, SessionDep
from service.inbox import service as inbox_service
from service.inbox.models import EventStatus

router = APIRouter(prefix="/api/v1/admin/events", tags=["admin"])


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    source: str
    delivery_key: str
    task: str
    status: str
    attempts: int
    last_error: str | None
    result: str | None
    received_at: datetime
    handled_at: datetime | None
    next_attempt_at: datetime


class EventDetail(EventOut):
    payload: str
    headers: dict[str, str]
    hints: dict[str, Any]


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(default_factory=list, max_length=1000)
    status: EventStatus | None = None


@router.get("")
def list_events(
    session: SessionDep,
    _: AdminPrincipal,
    status: EventStatus | None = None,
    source: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[EventOut]:
    """Events newest first."""
    rows = inbox_service.list_events(session, status=status, source=source, limit=limit)
    return [EventOut.model_validate(r) for r in rows]


@router.get("/{event_id}")
def get_event(event_id: str, session: SessionDep, _: AdminPrincipal) -> EventDetail:
    """One event with its (redacted) payload."""
    return EventDetail.model_validate(inbox_service.get_event(session, event_id=event_id))


@router.post("/replay")
def replay_events(data: ReplayIn, session: SessionDep, _: AdminPrincipal) -> dict[str, list[str]]:
    """Queue events again (by ids or by status)."""
    return {"replayed": inbox_service.replay(session, ids=data.ids, status=data.status)}

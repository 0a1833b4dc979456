"""Brief requests: create (or reuse), list, find, regenerate, and record render outcomes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service.auth.models import User
from service.auth.tokens import Principal
from service.briefs.models import Brief, BriefStatus
from service.briefs.render import Outcome
from service.briefs.schemas import BriefIn
from service.db import new_id, utcnow
from service.errors import Conflict, NotFound
from service.inbox.models import EventStatus
from service.outbound import service as outbound
from service.worker import jobs

RENDER_TASK = "briefs.render"
ADMIN_ROLE = "admin"
PAGE_ROLES = ("commercial", "admin")


class BriefNotFound(NotFound):
    code = "brief_not_found"


class BriefNotReady(Conflict):
    code = "brief_not_ready"


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def job_key(brief: Brief) -> str:
    return f"{RENDER_TASK}:{brief.id}:v{brief.version}"


def create(
    session: Session, *, request: BriefIn, owner_id: str | None, requested_by: str
) -> tuple[Brief, bool]:
    """A new queued brief with its render job, or (False) the owner's identical live one.

    A ready brief is only reused while nothing it relied on has changed; the caller checks
    that with `is_out_of_date` and regenerates, since it needs the settings.
    """
    data = request.canonical()
    existing = _same_request(session, owner_id=owner_id, requested_by=requested_by, data=data)
    if existing is not None:
        return existing, False
    brief = Brief(
        id=new_id("brf"),
        owner_id=owner_id,
        requested_by=requested_by,
        merchant_name=request.merchant_name,
        request=data,
        request_hash=request_hash(data),
        version=1,
        status=BriefStatus.QUEUED.value,
        sources={},
    )
    session.add(brief)
    session.flush()
    _enqueue(session, brief)
    return brief, True


def _same_request(
    session: Session, *, owner_id: str | None, requested_by: str, data: dict[str, Any]
) -> Brief | None:
    owner = Brief.owner_id == owner_id if owner_id else Brief.requested_by == requested_by
    query = (
        select(Brief)
        .where(owner, Brief.request_hash == request_hash(data), Brief.status != "failed")
        .order_by(Brief.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def regenerate(session: Session, *, brief: Brief) -> Brief:
    """Queue a new version of `brief` (its content or FAQs changed, or it failed)."""
    brief.version += 1
    brief.status = BriefStatus.QUEUED.value
    brief.error = None
    brief.updated_at = utcnow()
    _enqueue(session, brief)
    return brief


def _enqueue(session: Session, brief: Brief) -> None:
    payload = {"brief_id": brief.id, "version": brief.version}
    jobs.enqueue(session, task=RENDER_TASK, key=job_key(brief), payload=payload)


def get(session: Session, *, brief_id: str) -> Brief:
    brief = session.get(Brief, brief_id)
    if brief is None:
        raise BriefNotFound(f"no brief {brief_id!r}")
    return brief


def visible_to_user(session: Session, *, brief_id: str, user: User) -> Brief:
    """The brief, if `user` may see it (their own; an admin sees all); else not found."""
    brief = get(session, brief_id=brief_id)
    if user.role != ADMIN_ROLE and brief.owner_id != user.id:
        raise BriefNotFound(f"no brief {brief_id!r}")  # no hint that it exists
    return brief


def visible_to_principal(session: Session, *, brief_id: str, principal: Principal) -> Brief:
    """The brief, if the caller made it (or is an admin / a token without a user)."""
    brief = get(session, brief_id=brief_id)
    if "admin" in principal.scopes or principal.user_id is None:
        return brief
    if brief.owner_id != principal.user_id:
        raise BriefNotFound(f"no brief {brief_id!r}")
    return brief


def list_briefs(
    session: Session, *, user: User, search: str | None = None, limit: int = 100
) -> list[Brief]:
    """The user's briefs (everyone's for an admin), newest first, optionally searched."""
    query = select(Brief)
    if user.role != ADMIN_ROLE:
        query = query.where(Brief.owner_id == user.id)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(Brief.merchant_name).like(pattern),
                func.lower(Brief.recommended_channel).like(pattern),
            )
        )
    return list(session.scalars(query.order_by(Brief.created_at.desc()).limit(limit)))


def display_status(session: Session, *, brief: Brief) -> str:
    """queued, rendering (a worker holds the job now), ready or failed."""
    if brief.status != BriefStatus.QUEUED.value:
        return brief.status
    job = jobs.find(session, key=job_key(brief))
    if job is not None and job.status == EventStatus.PROCESSING:
        return BriefStatus.RENDERING.value
    return brief.status


def is_out_of_date(brief: Brief, *, current: dict[str, Any]) -> bool:
    """Whether a ready brief relied on documents or FAQs that have changed since."""
    return brief.status == BriefStatus.READY.value and brief.sources != current


def record(session: Session, *, brief: Brief, outcome: Outcome) -> str:
    """Store a render outcome on the brief; `brief.ready` goes out when it is ready."""
    brief.updated_at = utcnow()
    if outcome.error is not None:
        brief.status, brief.error = BriefStatus.FAILED.value, outcome.error[:2000]
        return f"brief {brief.id} v{brief.version} failed"
    brief.status, brief.error = BriefStatus.READY.value, None
    brief.fingerprint, brief.pdf_path = outcome.fingerprint, outcome.pdf_path
    brief.page_count = outcome.pages or _known_pages(session, outcome.fingerprint)
    brief.sources, brief.recommended_channel = outcome.sources or {}, outcome.channel
    brief.rendered_at = brief.updated_at
    outbound.emit(
        session,
        event_type="brief.ready",
        key=f"brief.ready:{brief.id}:{brief.version}",
        data={
            "id": brief.id,
            "version": brief.version,
            "merchant_name": brief.merchant_name,
            "recommended_channel": brief.recommended_channel,
            "pdf_url": pdf_url(brief),
            "content_hash": brief.fingerprint,
        },
    )
    return f"brief {brief.id} v{brief.version} ready"


def _known_pages(session: Session, fingerprint: str | None) -> int | None:
    query = select(Brief.page_count).where(
        Brief.fingerprint == fingerprint, Brief.page_count.is_not(None)
    )
    return session.scalars(query.limit(1)).first()


def pdf_url(brief: Brief) -> str | None:
    return f"/api/v1/briefs/{brief.id}/pdf" if brief.status == BriefStatus.READY.value else None

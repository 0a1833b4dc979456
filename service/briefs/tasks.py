"""Worker handlers of the briefs domain (registered with service.worker.registry).

Rendering takes seconds; the handler runs inside the worker's write transaction, which on
SQLite is the one writer that webhook commits wait for. So the render happens in the
*preparer*, which the worker runs for a claimed batch before that transaction, with a
read-only snapshot: it composes each brief, renders the batch in parallel in the process
pool and stores the PDFs. The handler then only records the outcome (milliseconds). If no
prepared outcome is at hand (the preparer failed, or the event came another way), the
handler renders itself: slower for everyone else, but never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.briefs import service as briefs_service
from service.briefs.models import Brief, BriefStatus
from service.briefs.render import Outcome, render_briefs
from service.inbox.models import InboxEvent
from service.worker import registry
from service.worker.context import worker_settings
from service.worker.jobs import payload_of
from service.worker.prepared import PreparedResults

log = logging.getLogger("relay.briefs")

_prepared: PreparedResults[Outcome] = PreparedResults()


class RenderInterrupted(Exception):
    """The render was cut short through no fault of the brief: the worker retries it."""


def _pending(session: Session, event: InboxEvent) -> Brief | None:
    """The brief version this job is for, if it still waits for its PDF."""
    payload = payload_of(event)
    brief = session.get(Brief, str(payload.get("brief_id")))
    if brief is None or brief.version != payload.get("version"):
        return None
    return brief if brief.status == BriefStatus.QUEUED.value else None


@registry.preparer(briefs_service.RENDER_TASK)
def prepare_renders(session: Session, events: Sequence[InboxEvent]) -> None:
    """Render the batch's briefs outside the write transaction (see the module docstring)."""
    try:
        settings = worker_settings()
    except RuntimeError:  # this worker does not give preparers its settings: handler renders
        return
    found = [(event, _pending(session, event)) for event in events]
    pending = [(event, brief) for event, brief in found if brief is not None]
    if not pending:
        return
    outcomes = render_briefs(session, briefs=[b for _, b in pending], settings=settings)
    for (event, _), outcome in zip(pending, outcomes, strict=True):
        _prepared.put(event.id, outcome)


@registry.task(briefs_service.RENDER_TASK)
def render_brief(session: Session, event: InboxEvent) -> str:
    """Record the rendered PDF (or the failure) of one brief version."""
    brief = _pending(session, event)
    outcome = _prepared.take(event.id)
    if brief is None:
        return "brief superseded or already done"
    if outcome is None or outcome.version != brief.version:
        log.info("rendering inside the handler", extra={"brief_id": brief.id})
        outcome = render_briefs(session, briefs=[brief], settings=worker_settings())[0]
    if outcome.transient:
        raise RenderInterrupted(outcome.error or "render interrupted")
    return briefs_service.record(session, brief=brief, outcome=outcome)

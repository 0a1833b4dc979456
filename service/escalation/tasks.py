"""Worker handlers of the escalation domain (registered with service.worker.registry).

The blocking vendor calls happen here, in the worker, each bounded by its timeout. Vendor
failures become the worker's outcomes: unreachable or 5xx → retry with backoff, 429 →
retry at the vendor's `Retry-After`, a refusal → quarantine with the vendor's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from integrations.contracts import OutboundRateLimited, OutboundRejected
from service.escalation import clients, service, writeback
from service.inbox.models import InboxEvent
from service.worker import jobs
from service.worker.context import worker_settings
from service.worker.registry import PermanentFailure, RetryAfter, task


@contextmanager
def _vendor_outcomes() -> Iterator[None]:
    try:
        yield
    except OutboundRateLimited as exc:
        raise RetryAfter(str(exc), seconds=exc.retry_after) from exc
    except OutboundRejected as exc:
        raise PermanentFailure(str(exc)) from exc


@task(service.CREATE_TASK)
def create_issue(session: Session, event: InboxEvent) -> str:
    """File (or find) the theme's Jira issue."""
    settings = worker_settings()
    theme_id = str(jobs.payload_of(event)["theme_id"])
    with _vendor_outcomes():
        return service.file_issue(
            session, theme_id=theme_id, tracker=clients.tracker(settings), settings=settings
        )


@task(service.COMMENT_TASK)
def comment_growth(session: Session, event: InboxEvent) -> str:
    """Tell Engineering the escalated theme has grown."""
    tracker = clients.tracker(worker_settings())
    theme_id = str(jobs.payload_of(event)["theme_id"])
    with _vendor_outcomes():
        return service.post_growth(session, theme_id=theme_id, tracker=tracker)


@task(writeback.NOTE_TASK)
def helpdesk_note(session: Session, event: InboxEvent) -> str:
    """Add the internal note on the ticket (once)."""
    client = clients.notes(worker_settings())
    with _vendor_outcomes():
        return writeback.send(
            session, job_key=event.delivery_key, payload=jobs.payload_of(event), client=client
        )

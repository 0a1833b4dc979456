"""Task handlers by name. Each domain's `tasks.py` registers its handlers here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from service.inbox.models import InboxEvent

# A handler does the event's work inside the caller's transaction and returns a short
# outcome for the event log (e.g. "feedback fb_… updated"). It never commits.
Handler = Callable[[Session, InboxEvent], str]

HANDLERS: dict[str, Handler] = {}


class PermanentFailure(Exception):
    """Retrying cannot help (the event cannot be understood): quarantine at once."""


def task(name: str) -> Callable[[Handler], Handler]:
    """Register `handler` for events whose task is `name`."""

    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def handler_for(name: str) -> Handler | None:
    _load_task_modules()
    return HANDLERS.get(name)


def _load_task_modules() -> None:
    # Imported here, not at module top, so domains can import the registry freely.
    from service.inbox import tasks as _inbox_tasks  # noqa: F401

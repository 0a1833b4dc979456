"""What a task handler may need beyond its session: the settings of the worker running it.

Handlers keep their `(session, event)` signature; outbound clients (Jira, Zendesk,
subscribers) read their configuration from here, set by the worker for each handler call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from service.config import Settings

_current_settings: ContextVar[Settings | None] = ContextVar("relay_worker_settings", default=None)


@contextmanager
def running_with(settings: Settings) -> Iterator[None]:
    """Make `settings` what handlers see through `worker_settings()` in this block."""
    token = _current_settings.set(settings)
    try:
        yield
    finally:
        _current_settings.reset(token)


def worker_settings() -> Settings:
    """The settings of the worker running the current handler."""
    settings = _current_settings.get()
    if settings is None:
        raise RuntimeError("worker_settings() called outside a worker handler")
    return settings

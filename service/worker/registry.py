"""Task handlers by name. Each domain's `tasks.py` registers its handlers here."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from service.inbox.models import InboxEvent

# A handler does the event's work inside the caller's transaction and returns a short
# outcome for the event log (e.g. "feedback fb_… updated"). It never commits.
Handler = Callable[[Session, InboxEvent], str]

HANDLERS: dict[str, Handler] = {}

# A preparer sees a batch of claimed events in a read-only snapshot before the write
# transaction, and precomputes what it can (e.g. batched classification). It must not
# write; whatever it computes is only a cache the handler may hit.
Preparer = Callable[[Session, Sequence[InboxEvent]], None]
PREPARERS: dict[str, Preparer] = {}

R = TypeVar("R")


@dataclass(frozen=True)
class Portable(Generic[R]):
    """A preparer in two steps: `compute` reads the snapshot and returns what it found as
    a picklable value, `install` keeps that value where the handlers look. The worker may
    run `compute` in its helper process (`worker.helper`), for the next claim while it
    writes this one; in the worker's own process the two steps simply follow each other."""

    compute: Callable[[Session, Sequence[InboxEvent]], R]
    install: Callable[[R], None]

    def __call__(self, session: Session, events: Sequence[InboxEvent]) -> None:
        self.install(self.compute(session, events))


PORTABLE: dict[str, Portable[Any]] = {}

# A loader sees the events of one write transaction before their handlers run, in that
# transaction, and loads what they will touch in a few queries instead of a few per
# event (rows it loads are the handlers' to change; it changes nothing itself).
Loader = Callable[[Session, Sequence[InboxEvent]], None]
LOADERS: dict[str, Loader] = {}


# A schedule looks at the clock and enqueues the jobs that are due, under keys that make
# each occurrence one job (`jobs.enqueue`), however many workers look and how often.
Schedule = Callable[[Session, datetime], None]
SCHEDULES: dict[str, Schedule] = {}


class PermanentFailure(Exception):
    """Retrying cannot help (the event cannot be understood): quarantine at once."""


class RetryAfter(Exception):
    """Try again, but not before `seconds` from now (a vendor's `Retry-After`), whatever
    the backoff would say. It still counts as an attempt."""

    def __init__(self, message: str, *, seconds: float) -> None:
        super().__init__(message)
        self.seconds = max(float(seconds), 0.0)


F = TypeVar("F", bound=Callable[..., object])


def _registrar(table: dict[str, F], name: str) -> Callable[[F], F]:
    def register(function: F) -> F:
        table[name] = function
        return function

    return register


def task(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for events whose task is `name`."""
    return _registrar(HANDLERS, name)


def preparer(name: str) -> Callable[[Preparer], Preparer]:
    """Register a batch preparer for events whose task is `name`."""
    return _registrar(PREPARERS, name)


def portable_preparer(
    name: str, *, install: Callable[[R], None]
) -> Callable[
    [Callable[[Session, Sequence[InboxEvent]], R]], Callable[[Session, Sequence[InboxEvent]], R]
]:
    """Register `compute` and `install` as the portable preparer of `name` (see Portable)."""

    def register(
        compute: Callable[[Session, Sequence[InboxEvent]], R],
    ) -> Callable[[Session, Sequence[InboxEvent]], R]:
        PORTABLE[name] = PREPARERS[name] = Portable(compute, install)
        return compute

    return register


def loader(name: str) -> Callable[[Loader], Loader]:
    """Register a batch loader for events whose task is `name`."""
    return _registrar(LOADERS, name)


def schedule(name: str) -> Callable[[Schedule], Schedule]:
    """Register a schedule the worker runs every `worker_schedule_seconds`."""
    return _registrar(SCHEDULES, name)


def schedules() -> dict[str, Schedule]:
    load_task_modules()
    return dict(SCHEDULES)


def handler_for(name: str) -> Handler | None:
    load_task_modules()
    return HANDLERS.get(name)


def preparer_for(name: str) -> Preparer | None:
    load_task_modules()
    return PREPARERS.get(name)


def portable_for(name: str) -> Portable[Any] | None:
    load_task_modules()
    return PORTABLE.get(name)


def loader_for(name: str) -> Loader | None:
    load_task_modules()
    return LOADERS.get(name)


# Every domain module that registers handlers.
TASK_MODULES = (
    "service.inbox.tasks",
    "service.escalation.tasks",
    "service.faq.tasks",
    "service.briefs.tasks",
    "service.outbound.tasks",
    "service.digest.tasks",
)


_loaded = False


def load_task_modules() -> None:
    # Imported here, not at module top, so domains can import the registry freely. Once:
    # the lookups run per event, and asking importlib again costs ~1 % of the writer.
    global _loaded
    if _loaded:
        return
    for module in TASK_MODULES:
        importlib.import_module(module)
    _loaded = True

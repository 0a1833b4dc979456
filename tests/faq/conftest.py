"""FAQ fixtures: corpus tickets through the real inbox and worker, and signed-in reviewers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service import demo
from service.auth import users
from service.config import Settings
from service.db import Database
from service.faq import service as faq_service
from service.faq.models import FaqEntry
from service.feedback import service as feedback_service
from service.feedback.schemas import MerchantIn
from service.inbox.writer import store_events
from service.worker.runner import Worker
from tests.auth.conftest import PASSWORD, csrf_from, log_in

# Two corpus themes: API keys rejected with 401 (no catalogue code) and GCash failure codes.
SMALL_THEMES = frozenset({"wrong-api-key-401", "gcash-failure-codes"})


def corpus(themes: Iterable[str] | None = None) -> list[dict[str, Any]]:
    wanted = set(themes) if themes is not None else None
    return [t for t in demo.corpus_tickets() if wanted is None or t["labels"]["theme"] in wanted]


def load_tickets(database: Database, settings: Settings, tickets: list[dict[str, Any]]) -> None:
    """The tickets as Zendesk deliveries through the inbox and the worker (as `relay demo`)."""
    with database.session() as session:
        for ticket in tickets:
            merchant = ticket["merchant"]
            feedback_service.upsert_merchant(
                session,
                merchant=MerchantIn(
                    id=demo.ORG_PREFIX + merchant["id"],
                    name=merchant["name"],
                    segment=merchant["segment"],
                    monthly_tpv_php=merchant["monthly_tpv_php"],
                ),
            )
        events = [demo.inbox_event(e) for t in tickets for e in demo.ticket_events(t)]
        store_events(session, events=events)
    worker = Worker(database, settings)
    while worker.run_once():
        pass


@pytest.fixture
def small_corpus(db: Database, settings: Settings) -> list[dict[str, Any]]:
    tickets = corpus(SMALL_THEMES)
    load_tickets(db, settings, tickets)
    return tickets


@pytest.fixture
def generated(db: Database, settings: Settings, small_corpus: list[dict[str, Any]]) -> list[str]:
    """Entry ids generated from the small corpus (at least one)."""
    with db.session() as session:
        report = faq_service.generate(session, settings=settings)
    assert report.created
    return report.created


def entry_of(db: Database, faq_id: str) -> FaqEntry:
    with db.session() as session:  # committed, not rolled back: attributes stay loaded
        entry = session.get(FaqEntry, faq_id)
        assert entry is not None
        return entry


def theme_of(db: Database, faq_id: str) -> str:
    """The id of the entry's theme."""
    with db.read_session() as session:
        entry = session.get(FaqEntry, faq_id)
        assert entry is not None and entry.theme_id is not None
        return entry.theme_id


@pytest.fixture
def sign_in(db: Database, client: TestClient) -> Callable[[str], str]:
    """Sign a new user of `role` in on `client`; returns a CSRF token for its forms."""

    def make(role: str) -> str:
        email = f"{role}@example.ph"
        with db.session() as session:
            users.add_user(session, email=email, role=role, password=PASSWORD, name=role)
        assert log_in(client, email=email).status_code == 303
        return csrf_from(client.get("/faqs"))

    return make

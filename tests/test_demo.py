"""`relay demo`: the corpus goes through the real inbox and worker, nothing secret is kept."""

from __future__ import annotations

from sqlalchemy import func, select

from service import demo
from service.config import Settings
from service.db import Database
from service.feedback.models import Feedback
from service.inbox.models import InboxEvent


def test_demo_loads_every_ticket_and_redacts_every_secret(db: Database, settings: Settings) -> None:
    tickets = list(demo.corpus_tickets())
    summary = demo.load(db, settings)
    assert summary.tickets == len(tickets) == 220
    assert summary.processed == summary.events
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 220
        statuses = dict(
            session.execute(
                select(Feedback.ticket_status, func.count()).group_by(Feedback.ticket_status)
            ).all()
        )
        payloads = " ".join(session.scalars(select(InboxEvent.payload)))
        texts = " ".join(
            f"{r.subject} {r.text} {r.comments}" for r in session.scalars(select(Feedback))
        )
    expected = {}
    for ticket in tickets:
        expected[ticket["status"]] = expected.get(ticket["status"], 0) + 1
    assert statuses == expected
    secrets = [value for t in tickets for value in t["labels"]["must_redact"]]
    assert len(secrets) > 20
    leaked = [value for value in secrets if value in payloads or value in texts]
    assert leaked == []

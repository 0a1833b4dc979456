"""`relay demo`: the corpus goes through the real inbox and worker, nothing secret is kept."""

from __future__ import annotations

from pypdf import PdfReader
from sqlalchemy import func, select

from service import demo
from service.config import Settings
from service.db import Database
from service.feedback.models import Feedback
from service.inbox.models import InboxEvent
from service.themes.models import Theme


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


def test_demo_drafts_faqs_and_renders_a_brief_citing_the_tickets_themes(
    db: Database, settings: Settings
) -> None:
    demo.load(db, settings)
    outputs = demo.produce(db, settings)
    files = sorted(outputs.faq_dir.glob("*.md"))
    assert outputs.faqs == len(files) > 0
    assert not [f.name for f in files if "[REDACTED" in f.read_text(encoding="utf-8")]
    assert outputs.brief_error is None and outputs.brief_pdf is not None
    text = " ".join(page.extract_text() for page in PdfReader(outputs.brief_pdf).pages)
    assert "Kape Kalye Coffee Co." in text
    # Known limitations come from the themes the webhooks built: the PDF cites one of them.
    with db.session() as session:
        titles = session.scalars(
            select(Theme.title).where(Theme.payment_method.in_(demo.DEMO_BRIEF.payment_methods))
        ).all()
    flat = " ".join(text.split())
    assert any(" ".join(title.split()) in flat for title in titles)

"""`relay demo`: the shipped synthetic tickets, fed through the real pipeline.

Each corpus ticket becomes Zendesk event-subscription deliveries (created, then the agent's
reply and the status change when solved), stored in the inbox exactly as the webhook would
store them, and processed by the worker. Merchants are loaded first, as a CRM sync would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.registry import SOURCES
from service.briefs import service as briefs_service
from service.briefs.schemas import BriefIn
from service.config import Settings
from service.db import Database
from service.faq import markdown as faq_markdown
from service.faq import service as faq_service
from service.feedback import service as feedback_service
from service.feedback.schemas import MerchantIn
from service.inbox import service as inbox_service
from service.inbox.writer import NewEvent, store_events
from service.worker.runner import Worker

CORPUS = Path(__file__).resolve().parent / "structuring" / "corpus" / "tickets-dev.jsonl"
ORG_PREFIX = "zendesk-org:"


# A merchant Commercial might meet: a Shopify shop taking cards, e-wallets and QR Ph.
DEMO_BRIEF = BriefIn(
    merchant_name="Kape Kalye Coffee Co.",
    website="https://kapekalye.example.ph",
    industry="Food and beverage",
    segment="smb",
    monthly_volume_php=1_500_000,
    average_ticket_php=350,
    payment_methods=["card", "gcash", "paymaya", "qrph"],
    integration_channel="shopify",
    tech_stack="Shopify store run by two developers",
    go_live_date=date(2027, 1, 15),
    questions=(
        "Can customers pay with GCash on our Shopify store?\nHow do refunds work for e-wallets?"
    ),
    contact_email="ops@kapekalye.example.ph",
)


@dataclass(frozen=True)
class DemoSummary:
    tickets: int
    events: int
    processed: int


@dataclass(frozen=True)
class DemoOutputs:
    """What the demo produced beyond records and themes, and where it is."""

    faqs: int
    faq_dir: Path
    brief_id: str
    brief_pdf: Path | None
    brief_error: str | None


def corpus_tickets() -> Iterator[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _event(
    ticket: dict[str, Any],
    kind: str,
    at: datetime,
    *,
    status: str,
    event: dict[str, Any] | None = None,
) -> dict[str, Any]:
    number = int(ticket["id"].removeprefix("T-"))
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "account_id": 1,
        "id": f"demo-{ticket['id']}-{kind}",
        "time": stamp,
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{number}",
        "detail": {
            "id": str(number),
            "subject": ticket["subject"],
            "description": ticket["body"],
            "status": status,
            "organization_id": ticket["merchant"]["id"],
            "requester_id": "1",
            "created_at": ticket["created_at"],
            "updated_at": stamp,
            "tags": [ticket["channel"]],
        },
        "event": event or {},
    }


def ticket_events(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The deliveries Zendesk would send for this ticket's life so far."""
    created = datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00"))
    events = [_event(ticket, "created", created, status="NEW")]
    if ticket.get("agent_reply"):
        reply = {
            "comment": {
                "id": f"{ticket['id']}-reply",
                "body": ticket["agent_reply"],
                "is_public": True,
                "author": {"id": "2", "is_staff": True, "name": "CS agent"},
            }
        }
        events.append(
            _event(
                ticket, "comment_added", created + timedelta(hours=2), status="PENDING", event=reply
            )
        )
    final = {"solved": "SOLVED", "pending": "PENDING", "open": "OPEN"}.get(ticket["status"])
    if final:
        events.append(_event(ticket, "status_changed", created + timedelta(hours=3), status=final))
    return events


def inbox_event(body: dict[str, Any]) -> NewEvent:
    """The delivery exactly as the Zendesk webhook route would store it."""
    return inbox_service.received_event(SOURCES["zendesk"], json.dumps(body).encode(), {})


def load(database: Database, settings: Settings) -> DemoSummary:
    """Store merchants and the corpus as Zendesk deliveries, then process them all."""
    tickets = list(corpus_tickets())
    with database.session() as session:
        for ticket in tickets:
            merchant = ticket["merchant"]
            feedback_service.upsert_merchant(
                session,
                merchant=MerchantIn(
                    id=ORG_PREFIX + merchant["id"],
                    name=merchant["name"],
                    segment=merchant["segment"],
                    monthly_tpv_php=merchant["monthly_tpv_php"],
                ),
            )
        events = [inbox_event(e) for t in tickets for e in ticket_events(t)]
        store_events(session, events=events)
    worker, processed = Worker(database, settings), 0
    while handled := worker.run_once():
        processed += handled
    return DemoSummary(tickets=len(tickets), events=len(events), processed=processed)


def generate_faqs(database: Database, settings: Settings) -> tuple[int, Path]:
    """Draft the FAQ entries of qualifying themes; write them as Markdown under data_dir."""
    with database.session() as session:
        faq_service.generate(session, settings=settings, theme_ids=None, rewrite=None)
        docs = faq_service.export_docs(session)
    out = settings.data_dir / "demo" / "faqs"
    return len(faq_markdown.write_documents(docs, out)), out


def render_brief(database: Database, settings: Settings) -> tuple[str, Path | None, str | None]:
    """Request one solution brief and let the worker render it: (id, PDF path, error)."""
    with database.session() as session:
        brief, _ = briefs_service.create(
            session, request=DEMO_BRIEF, owner_id=None, requested_by="relay demo"
        )
        brief_id = brief.id
    worker = Worker(database, settings)
    while worker.run_once():
        pass
    with database.read_session() as session:
        brief = briefs_service.get(session, brief_id=brief_id)
        pdf = settings.data_dir / brief.pdf_path if brief.pdf_path else None
        return brief_id, pdf, brief.error


def produce(database: Database, settings: Settings) -> DemoOutputs:
    """FAQs from the loaded themes and one PDF brief that draws on them."""
    faqs, faq_dir = generate_faqs(database, settings)
    brief_id, pdf, error = render_brief(database, settings)
    return DemoOutputs(faqs, faq_dir, brief_id, pdf, error)

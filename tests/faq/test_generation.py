"""FAQ generation: an entry per qualifying theme of the dev corpus, clean and lint-free."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from service.config import Settings
from service.content import prose
from service.content.lint import lint_markdown
from service.db import Database
from service.faq import generation
from service.faq import markdown as faq_markdown
from service.faq import service as faq_service
from service.faq import text as faq_text
from service.faq.models import FaqEntry, FaqVersion
from service.feedback.models import Feedback
from tests.faq.conftest import corpus, load_tickets

# Redaction marks, template syntax, writing placeholders, and Python values leaking as text.
PLACEHOLDERS = re.compile(r"(?i:REDACTED|\{\{|\}\}|\bTODO\b|\bTBD\b|lorem ipsum)|\bNone\b|\[\]")


def test_dev_corpus_gives_one_clean_entry_per_qualifying_theme(
    db: Database, settings: Settings
) -> None:
    tickets = corpus()
    load_tickets(db, settings, tickets)
    with db.session() as session:
        qualifying = generation.qualifying_themes(session, min_merchants=3)
        report = faq_service.generate(session, settings=settings)
        docs = faq_service.markdown_documents(session)
        entries = list(session.scalars(select(FaqEntry)))
        texts = [f"{v.question}\n{v.body}" for v in session.scalars(select(FaqVersion))]
    assert len(qualifying) >= 20
    assert sorted(e.theme_id or "" for e in entries) == sorted(t.id for t in qualifying)
    assert len(report.created) == len(docs) == len(qualifying)

    secrets = [value for t in tickets for value in t["labels"]["must_redact"]]
    assert [s for s in secrets if any(s in text for text in texts)] == []
    assert [t for t in texts if PLACEHOLDERS.search(t)] == []
    today = dt.datetime.now(dt.UTC).date()
    errors = [
        str(finding)
        for label, text in docs
        for finding in lint_markdown(label, text, kind="faq", today=today, max_age_days=180)
        if finding.severity == "error"
    ]
    assert errors == []
    # Every entry answers from the catalogue or from an agent reply that solved tickets.
    assert all("## Resolution\n\n1. " in t or faq_markdown.REPLY_INTRO in t for _, t in docs)

    with db.session() as session:
        again = faq_service.generate(session, settings=settings)
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], len(qualifying))


def _record(record_id: str, status: str, reply: str | None, **fields: Any) -> Feedback:
    comments = [{"id": "c1", "body": "Please help", "public": True, "author_role": "requester"}]
    if reply is not None:
        comments.append({"id": "c2", "body": reply, "public": True, "author_role": "agent"})
    return Feedback(id=record_id, status=status, comments=comments, **fields)


def test_the_reply_that_solved_most_tickets_wins_near_duplicates_grouped() -> None:
    usual = "Hi Ana! Create the webhook in live mode. Then update the signing secret you verify."
    same = "Hello Ben, create the webhook in live mode. Then update the signing secret you verify!"
    rare = "Hi! Use your live secret key for live payments."
    records = [
        _record("fb_1", "solved", rare),
        _record("fb_2", "solved", usual),
        _record("fb_3", "solved", same),
        _record("fb_4", "open", rare),  # not solved: does not count
        _record("fb_5", "open", rare),
    ]
    reply, closed = generation.best_reply(records)
    assert reply == "Create the webhook in live mode. Then update the signing secret you verify."
    assert closed == ["fb_2", "fb_3"]
    assert generation.best_reply([_record("fb_6", "open", usual)]) == (None, [])


def test_agent_replies_lose_greetings_placeholders_ids_names_and_banned_words() -> None:
    reply = (
        "Good afternoon Paul! Your card [REDACTED:PAN] was declined.\n"
        "Palengke Grocers Inc. can simply retry pi_Yom0iGuJPHzmcci6OKaIVVOF after 10 minutes.\n"
        "Thanks,\nMarco"
    )
    cleaned = faq_text.clean_reply(reply, merchant_name="Palengke Grocers Inc.")
    assert cleaned == "Your business can retry pi_… after 10 minutes."


def test_agent_replies_lose_sentences_with_a_money_figure_that_has_no_unit() -> None:
    reply = (
        "The amount is converted to centavos twice. The maximum is 999999999 (₱9,999,999.99).\n"
        "Send 125000000 centavos and the Payment Intent is created."
    )
    assert list(prose.unitless_amounts(prose.mask(reply)))  # what the docs lint rejects
    cleaned = faq_text.clean_reply(reply)
    assert cleaned == (
        "The amount is converted to centavos twice.\n"
        "Send 125000000 centavos and the Payment Intent is created."
    )
    assert not list(prose.unitless_amounts(prose.mask(cleaned)))


def test_fewer_merchants_than_the_threshold_gives_no_entry(
    db: Database, settings: Settings
) -> None:
    load_tickets(db, settings, corpus({"rate-limit-429"}))
    strict = settings.model_copy(update={"faq_min_merchants": 50})
    with db.session() as session:
        assert faq_service.generate(session, settings=strict).created == []
        assert faq_service.markdown_documents(session) == []

"""Publishing to the Zendesk Help Center (fake, real HTTP) and the LLM rewrite (fake)."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import select

from integrations.llm import ChatClient
from integrations.zendesk.help_center import HelpCenterClient
from service.config import Settings
from service.db import Database
from service.faq import rewrite as faq_rewrite
from service.faq import service as faq_service
from service.faq.models import FaqVersion
from service.inbox.models import InboxEvent
from tests.conftest import drain
from tests.fakes.help_center import CREATE, TRANSLATION, FakeHelpCenter
from tests.fakes.llm_server import COMPLETIONS, FakeLlm
from tests.faq.conftest import entry_of

CARD = "4111 1111 1111 1111"


def _help_center(settings: Settings, fake: FakeHelpCenter) -> Settings:
    return settings.model_copy(
        update={
            "zendesk_url": fake.url,
            "zendesk_email": "cs@example.ph",
            "zendesk_api_token": SecretStr("zd-token"),
            "zendesk_help_center_section_id": 4242,
        }
    )


def _publish(db: Database, settings: Settings, faq_id: str) -> None:
    with db.session() as session:
        faq_service.approve(session, faq_id=faq_id, actor="user:cs", role="cs")
        faq_service.publish(session, faq_id=faq_id, actor="user:cs", role="cs", settings=settings)


def test_publishing_creates_one_article_and_republishing_updates_it(
    db: Database, settings: Settings, generated: list[str]
) -> None:
    faq_id = generated[0]
    with FakeHelpCenter() as fake:
        configured = _help_center(settings, fake)
        _publish(db, configured, faq_id)
        drain(db, configured)
        (article,) = fake.articles.values()
        assert article["section_id"] == 4242 and article["label_names"] == [f"relay-{faq_id}"]
        assert "<h2>Symptoms</h2>" in article["body"] and "relay:" not in article["body"]
        entry = entry_of(db, faq_id)
        assert entry.help_center_article_id == str(article["id"]) and entry.help_center_url

        with db.session() as session:
            faq_service.edit(
                session,
                faq_id=faq_id,
                question="Why is the key refused?",
                body="## Symptoms\n\nx",
                actor="user:cs",
                role="cs",
            )
        _publish(db, configured, faq_id)
        drain(db, configured)
        assert len(fake.requests_to("POST", CREATE)) == 1
        assert len(fake.requests_to("PUT", TRANSLATION)) == 1
        assert next(iter(fake.articles.values()))["title"] == "Why is the key refused?"


def test_a_lost_create_answer_does_not_make_a_second_article() -> None:
    with FakeHelpCenter() as fake:
        client = HelpCenterClient(fake.url, email="cs@example.ph", api_token="t")
        first = client.create_article(
            section_id=1, title="A", body_html="<p>a</p>", label="relay-x"
        )
        again = client.create_article(
            section_id=1, title="B", body_html="<p>b</p>", label="relay-x"
        )
        client.close()
    assert first.id == again.id and len(fake.articles) == 1
    assert fake.articles[first.id]["title"] == "B"


def test_publishing_without_a_help_center_queues_nothing(
    db: Database, settings: Settings, generated: list[str]
) -> None:
    _publish(db, settings, generated[0])
    with db.session() as session:
        tasks = list(session.scalars(select(InboxEvent.task)))
    assert faq_service.HELP_CENTER_TASK not in tasks


def test_the_llm_rewrite_is_off_by_default_and_only_sees_redacted_text(
    db: Database, settings: Settings, generated: list[str]
) -> None:
    assert faq_rewrite.rewriter_from(settings) is None
    body = f"## Symptoms\n\n- Your card {CARD} fails.\n\n## Resolution\n\n1. Try again.\n"
    with FakeLlm(lambda sent: sent.split("\n\n", 1)[1].replace("Try again", "Retry")) as fake:
        client = ChatClient(f"{fake.url}/v1", model="m")
        # The reply keeps the redaction mark it was sent: not trusted, the draft stands.
        assert faq_rewrite.rewrite(client, question="Why?", body=body) == body
        clean = body.replace(f" {CARD}", "")
        assert faq_rewrite.rewrite(client, question="Why?", body=clean) == clean.replace(
            "Try again", "Retry"
        )
        client.close()
        (first, _) = fake.sent()
        assert CARD not in first and "[REDACTED:PAN]" in first

    # Through generation: the rewritten text becomes the version; the endpoint sees no secret.
    with FakeLlm(
        lambda sent: sent.split("\n\n", 1)[1].replace("## Cause\n\n", "## Cause\n\nIn short: ")
    ) as fake:
        llm = settings.model_copy(update={"llm_base_url": f"{fake.url}/v1"})
        with db.session() as session:
            for faq_id in generated:  # regenerate from scratch: new drafts to rewrite
                faq_service.get(session, faq_id=faq_id).theme_id = None
            report = faq_service.generate(
                session, settings=llm, rewrite=faq_rewrite.rewriter_from(llm)
            )
            kinds = set(
                session.scalars(
                    select(FaqVersion.kind).where(FaqVersion.entry_id.in_(report.created))
                )
            )
        assert report.created and kinds == {"rewritten"}
        assert len(fake.requests_to("POST", COMPLETIONS)) == len(report.created)
        assert all("[REDACTED" not in s and CARD not in s for s in fake.sent())

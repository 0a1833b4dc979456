"""Composition without rendering: the recommender's rules, FAQs, answers, out-of-date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.briefs import compose as compose_module
from service.briefs.answers import split_questions
from service.briefs.content import brief_content
from service.briefs.recommend import recommend
from service.briefs.schemas import BriefIn
from service.content.library import library_for
from service.db import Database
from service.faq.schemas import PublishedFaq
from service.render.markdown import to_html
from tests.briefs.conftest import FIXTURE_LIBRARY, brief_request


def request(**overrides: object) -> BriefIn:
    return BriefIn.model_validate(brief_request(**overrides))


@pytest.mark.parametrize(
    ("overrides", "channel"),
    [
        ({"integration_channel": "shopify"}, "shopify"),
        ({"integration_channel": "other", "platform_name": "WooCommerce 8"}, "woocommerce"),
        ({"integration_channel": "other", "platform_name": "Magento"}, "checkout"),
        ({"integration_channel": "links"}, "links"),
        ({"integration_channel": "payment_intents_api", "tech_stack": ""}, "checkout"),
        (
            {"integration_channel": "payment_intents_api", "tech_stack": "Go + Kotlin"},
            "payment_intents_api",
        ),
        ({"integration_channel": "checkout", "tech_stack": "Django", "questions": ""}, "checkout"),
        (
            {
                "integration_channel": "checkout",
                "tech_stack": "Swift",
                "questions": "Native in-app payments?",
            },
            "payment_intents_api",
        ),
    ],
)
def test_recommender_rules(overrides: dict[str, object], channel: str) -> None:
    recommendation = recommend(request(**overrides))
    assert recommendation.channel == channel
    assert recommendation.reasons and all(
        r.endswith(".") or ")" in r for r in recommendation.reasons
    )


def test_unknown_platform_goes_to_product_to_confirm() -> None:
    recommendation = recommend(request(integration_channel="other", platform_name="Magento"))
    assert recommendation.differs
    assert recommendation.to_confirm == ["Whether a maintained PayMongo plugin exists for Magento."]


def test_links_at_volume_suggests_checkout() -> None:
    recommendation = recommend(request(integration_channel="links", monthly_volume_php=5_000_000))
    assert recommendation.channel == "links" and "Checkout" in recommendation.notes[0]


def test_library_markdown_becomes_escaped_html_without_images_or_local_links() -> None:
    html = to_html("See [the guide](../integrations/guide.md) <b>x</b> ![p](http://x/p.png)")
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert "<img" not in html and "guide.md" not in html and "the guide" in html


def test_split_questions() -> None:
    assert split_questions("1. How long? Is it safe?\n- What about QR Ph expiry\n\n") == [
        "How long?",
        "Is it safe?",
        "What about QR Ph expiry",
    ]


def test_published_faqs_are_included_and_answer_questions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    faq = PublishedFaq(
        id="faq_1",
        question="Why does the GCash authorization page time out?",
        product_area="ewallets",
        payment_method="gcash",
        theme_id=None,
        markdown="",
        resolution="Ask the customer to finish within **15 minutes**.",
        version=3,
        published_at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    calls: list[dict[str, object]] = []

    def published(session: object, **filters: object) -> list[PublishedFaq]:
        calls.append(filters)
        methods = filters.get("payment_methods") or []
        return [faq] if "gcash" in methods or filters.get("product_area") == "ewallets" else []

    # The FAQ engineer's real function is a stub today; this stands in for its answers.
    monkeypatch.setattr(compose_module.faq_service, "published_faqs", published)
    content = brief_content(library_for(FIXTURE_LIBRARY))
    asked = request(questions="Why does GCash authorization time out for customers?")
    with db.read_session() as session:
        view = compose_module.compose(session, request=asked, content=content)
    assert [f.question for f in view.faqs] == [faq.question]
    assert "<strong>15 minutes</strong>" in view.faqs[0].html
    assert view.answers[0].source.startswith("FAQ: Why does the GCash")
    assert {"kind": "FAQ", "version": "v3"}.items() <= vars(view.sources[-1]).items()
    assert {"payment_methods": ["card", "gcash", "qrph"]} in calls
    sources = compose_module.source_versions(
        compose_module.used_documents(asked, content, "checkout"), [faq]
    )
    assert sources["faqs"] == {"faq_1": 3}


def test_the_shipped_library_covers_every_method_and_channel(db: Database) -> None:
    """The documents in briefs/ (not the fixture): what production briefs are built from."""
    content = brief_content(library_for(None))
    assert set(content.fact_sheets) == {
        "card",
        "gcash",
        "paymaya",
        "grab_pay",
        "shopee_pay",
        "qrph",
        "dob",
        "billease",
    }
    assert set(content.guides) == {
        "payment_intents_api",
        "checkout",
        "links",
        "shopify",
        "woocommerce",
    }
    assert content.checklist is not None
    everything = request(
        payment_methods=list(content.fact_sheets),
        integration_channel="payment_intents_api",
        tech_stack="Node.js",
        questions="What is the minimum amount for a card payment?",
    )
    with db.read_session() as session:
        view = compose_module.compose(session, request=everything, content=content)
    assert all(len(method.sections) == 5 for method in view.methods)
    assert view.recommendation.channel == "payment_intents_api" and view.guide is not None
    assert len(view.guide_sections) == 4 and view.checklist and view.test_cards
    assert view.answers and "2000 centavos" in view.answers[0].html

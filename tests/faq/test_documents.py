"""FAQ documents for agents: view models from real themes, the catalogue and the checks, and
real WeasyPrint PDFs (digest, one-page quick-reference card, training module) read back
with pypdf."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pypdf
import pytest
from sqlalchemy.orm import Session

from service.db import Database
from service.faq import documents
from service.render import pdf as pdf_renderer
from service.render import weasy
from service.structuring.catalogue import load_catalogue
from service.themes import service as themes
from tests.themes.test_clustering import add_record

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
HOSTILE = '<img src="file:///etc/passwd"> Declines with insufficient_funds at checkout'
LEAKY = "Expired test card [REDACTED:PAN] fails; key sk_live_abcdefghijklmnop1234 pasted"

# Three distinct card problems: (subject, body), merchants, codes.
CARD_PROBLEMS: list[tuple[tuple[str, str], list[str], tuple[str, ...]]] = [
    (
        (
            "Customers declined for insufficient funds",
            "Many buyers get insufficient_funds declines on debit cards during payday sales; "
            "the card payment fails right after the OTP.",
        ),
        ["m_1", "m_2", "m_3"],
        ("insufficient_funds",),
    ),
    (
        (
            "Expired card sub_code on every test card",
            "Our QA team runs the sandbox suite and every attempt with the documented test "
            "card returns card_expired, so the regression run is red.",
        ),
        ["m_4"],
        ("card_expired",),
    ),
    (
        (
            "Fraud blocks shown to shoppers",
            "The storefront shows processor_blocked and fraudulent messages to shoppers, who "
            "then call our hotline asking whether they are blacklisted.",
        ),
        ["m_5", "m_6"],
        ("processor_blocked", "fraudulent"),
    ),
]


def read(pdf: bytes) -> pypdf.PdfReader:
    assert pdf.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    """The PDF's text with whitespace collapsed (lines wrap anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in read(pdf).pages).split())


def squash(text: str) -> str:
    return " ".join(text.split())


def seed_cards(session: Session) -> list[str]:
    """The card problems as themes (most merchants first); their ids by rank.

    Decline codes of one catalogue family count as shared, so the matcher may group these
    problems; an analyst then splits each later one off into its own theme (a person's
    decision, which sticks).
    """
    ids: list[str] = []
    for text, merchants, codes in CARD_PROBLEMS:
        records = [
            add_record(session, text, merchant=merchant, area="cards", codes=codes)
            for merchant in merchants
        ]
        placed = {theme.id for r in records if (theme := themes.attach(session, record=r))}
        assert len(placed) == 1
        theme_id = placed.pop()
        if theme_id in ids:
            members = [r.id for r in records]
            split = themes.split(
                session, theme_id=theme_id, feedback_ids=members, title=text[0], actor="test"
            )
            theme_id = split.id
        ids.append(theme_id)
    return ids


@pytest.fixture
def cards(db: Database) -> list[str]:
    with db.session() as session:
        ids = seed_cards(session)
        themes.rename(session, theme_id=ids[0], title=HOSTILE, actor="test")
        themes.rename(session, theme_id=ids[1], title=LEAKY, actor="test")
    return ids


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every URL the PDF renderer's fetcher is asked for."""
    urls: list[str] = []
    original = weasy.BundledAssetFetcher.fetch

    def spy(self: Any, url: str, headers: Any = None) -> Any:
        urls.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(weasy.BundledAssetFetcher, "fetch", spy)
    yield urls


# ---------------------------------------------------------------- view models


def test_quick_reference_reads_themes_catalogue_and_checks(db: Database, cards: list[str]) -> None:
    with db.session() as session:
        card = documents.quick_reference(session, area="cards", now=NOW)
    assert card.area_title == "Cards"
    assert [t.rank for t in card.themes] == [1, 2, 3]
    assert card.themes[0].title == HOSTILE  # most merchants: ranked first, kept as text
    assert card.themes[0].merchants == 3 and card.themes[0].codes == ("insufficient_funds",)
    # Codes merchants quote come first, in theme order; the area's own codes follow.
    quoted = [c.code for c in card.codes[:4]]
    assert quoted[0] == "insufficient_funds"
    assert set(quoted) == {"insufficient_funds", "card_expired", "processor_blocked", "fraudulent"}
    catalogue = load_catalogue()
    assert card.codes[0].meaning.startswith(catalogue.codes["insufficient_funds"].meaning[:40])
    assert len(card.codes) == 6 and len(card.checks) == 5
    assert card.checks[0].check == documents.checks_for("cards")[0].check
    assert card.questions == ()  # no published FAQ entry in this area


def test_text_people_typed_is_scrubbed_of_secrets_and_placeholders(
    db: Database, cards: list[str]
) -> None:
    with db.session() as session:
        module = documents.training_module(session, area="cards", now=NOW)
    titles = [p.theme.title for p in module.patterns]
    leaky = next(t for t in titles if t.startswith("Expired test card"))
    assert "sk_live_" not in leaky and "[REDACTED" not in leaky
    assert leaky.count(documents.REMOVED) == 2


def test_training_module_sections(db: Database, cards: list[str]) -> None:
    with db.session() as session:
        module = documents.training_module(session, area="cards", now=NOW)
    assert [p.theme.rank for p in module.patterns] == [1, 2, 3]
    fraud = module.patterns[1]  # two merchants: second
    assert {c.code for c in fraud.codes} == {"processor_blocked", "fraudulent"}
    fixes = {c.code: c.fix for c in fraud.codes}
    assert fixes["processor_blocked"] == load_catalogue().codes["processor_blocked"].fix
    assert len(module.codes) == 41  # every card code in the catalogue
    assert module.checks == documents.checks_for("cards")
    assert any("error codes" in s for s in module.sources)
    assert any("configuration-checks" in s for s in module.sources)


def test_quiz_is_deterministic_and_its_answers_come_from_the_catalogue(
    db: Database, cards: list[str]
) -> None:
    with db.session() as session:
        first = documents.training_module(session, area="cards", now=NOW).quiz
        again = documents.training_module(session, area="cards", now=NOW).quiz
    assert first == again
    assert len(first) == documents.QUIZ_SIZE
    catalogue = load_catalogue()
    for question in first:
        code = question.prompt.split(" sees ")[1].split(" ")[0]
        entry = catalogue.codes[code]
        right = question.options[question.answer]
        assert right == (entry.fix if "should they do" in question.prompt else entry.meaning)
        openings = {tuple(o.lower().split()[:6]) for o in question.options}
        assert len(openings) == len(question.options) == 4  # no two read alike
        others = {e.fix for e in catalogue.entries if e.code != code} | {
            e.meaning for e in catalogue.entries if e.code != code
        }
        assert all(o in others for i, o in enumerate(question.options) if i != question.answer)
    # The theme-quoted codes are asked about first, naming their theme.
    assert "insufficient_funds" in first[0].prompt and HOSTILE in first[0].prompt


def test_quiz_uses_checks_where_the_catalogue_has_no_codes(db: Database) -> None:
    with db.session() as session:
        module = documents.training_module(session, area="webhooks", now=NOW)
    assert module.codes == () and module.patterns == ()
    checks = documents.checks_for("webhooks")
    assert [q.options[q.answer] for q in module.quiz] == [c.check for c in checks]
    for question in module.quiz:
        wrong = [o for i, o in enumerate(question.options) if i != question.answer]
        assert wrong and not set(wrong) & {c.check for c in checks}


def test_unknown_product_area_is_refused_by_name(db: Database) -> None:
    with db.session() as session, pytest.raises(documents.ProductAreaNotFound) as caught:
        documents.quick_reference(session, area="crypto")
    assert "'crypto'" in caught.value.message
    assert caught.value.status == 404


def test_every_product_area_has_checks() -> None:
    from service.structuring.taxonomy import PRODUCT_AREAS

    assert all(documents.checks_for(area) for area in PRODUCT_AREAS)


# ---------------------------------------------------------------- PDFs


def test_quick_reference_pdf_is_one_page_with_the_essentials(
    db: Database, cards: list[str], fetched: list[str]
) -> None:
    with db.session() as session:
        printable = documents.printable_quick_reference(session, area="cards", now=NOW)
    pdf = printable.pdf()
    reader = read(pdf)
    assert len(reader.pages) == 1
    text = text_of(pdf)
    card = printable.context["card"]
    assert "Cards" in text and "Top problems right now" in text
    # Narrow table cells wrap anywhere: compare without whitespace.
    compact = "".join(text.split())
    for theme in card.themes:
        assert "".join(theme.title.split()) in compact
    for code in card.codes:
        assert code.code in compact and "".join(code.fix.split()) in compact
    assert "".join(card.checks[0].check.split()) in compact
    # The hostile title is text on the page; nothing but bundled assets was asked for.
    assert HOSTILE in text
    assert "sk_live_" not in text and "[REDACTED" not in text
    assert fetched and all(url.startswith(pdf_renderer.BASE_URL) for url in fetched)
    assert all(len(page.images) == 0 for page in reader.pages)
    metadata = reader.metadata
    assert metadata is not None
    assert metadata.title == "Cards: quick reference"
    assert metadata.author == documents.AUTHOR
    assert metadata.creation_date == NOW


MORE_CARD_PROBLEMS = [
    (
        "Installment plans missing from the payment page",
        "Shoppers ask for 12-month installments with BDO and Metrobank credit cards but the "
        "installment option never appears in our payment form.",
    ),
    (
        "Issuer unavailable during the evening rush",
        "Around eight in the evening several issuers time out and payments come back with "
        "issuer_not_available; retrying a few minutes later works.",
    ),
]


def test_quick_reference_stays_one_page_with_the_longest_content(db: Database) -> None:
    long_words = " ".join(["Merchants report intermittent declines"] * 12)
    with db.session() as session:
        ids = seed_cards(session)
        for index, text in enumerate(MORE_CARD_PROBLEMS):
            codes = ("issuer_not_available",) if index else ()
            record = add_record(session, text, merchant=f"m_x{index}", area="cards", codes=codes)
            theme = themes.attach(session, record=record)
            assert theme is not None
            if theme.id in ids:  # matched a seeded problem: a person splits it out
                theme = themes.split(
                    session, theme_id=theme.id, feedback_ids=[record.id], title=text[0], actor="t"
                )
            ids.append(theme.id)
        for theme_id in ids:
            themes.rename(session, theme_id=theme_id, title=long_words, actor="test")
        printable = documents.printable_quick_reference(session, area="cards", now=NOW)
    card = printable.context["card"]
    assert len(card.themes) == documents.TOP_THEMES
    # Every other part at its cap too: the longest codes and FAQ questions the card allows.
    limits = documents.CARD_LIMITS
    longest_codes = tuple(sorted(load_catalogue().codes, key=len)[-3:])
    question = "Why does the payment fail again " * 10
    card = dataclasses.replace(
        card,
        themes=tuple(dataclasses.replace(t, codes=longest_codes) for t in card.themes),
        questions=(question[: limits["question"]],) * limits["questions"],
    )
    printable = dataclasses.replace(printable, context={"card": card})
    assert len(read(printable.pdf()).pages) == 1


def test_training_pdf_has_sections_quiz_and_answers(
    db: Database, cards: list[str], fetched: list[str]
) -> None:
    with db.session() as session:
        printable = documents.printable_training(session, area="cards", now=NOW)
    pdf = printable.pdf()
    reader = read(pdf)
    text = text_of(pdf)
    module = printable.context["module"]
    for heading in ("API basics", "Top error patterns", "Configuration checks", "Answer key"):
        assert heading in text
    assert "Self-check quiz" in text
    assert HOSTILE in text and "sk_live_" not in text and "[REDACTED" not in text
    for pattern in module.patterns:
        assert squash(pattern.theme.title) in text
    assert squash(load_catalogue().codes["processor_blocked"].fix) in text
    for question in module.quiz:
        assert squash(question.prompt) in text
        assert squash(question.options[question.answer]) in text
    key = text.split("Answer key")[-1]
    assert all(f"{q.answer_letter}." in key for q in module.quiz)
    assert len(reader.pages) >= 4  # cover, contents, body, quiz, answers
    # Library guides link to each other by relative path: printed, only public pages remain.
    links = [
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if "/URI" in annotation.get_object().get("/A", {})
    ]
    assert all(str(link).startswith("https://") for link in links), links
    assert all(url.startswith(pdf_renderer.BASE_URL) for url in fetched)
    metadata = reader.metadata
    assert metadata is not None
    assert metadata.title == "Cards: training module"
    assert metadata.author == documents.AUTHOR
    assert metadata.creation_date == NOW


def test_digest_without_published_entries_says_so(db: Database) -> None:
    with db.session() as session:
        printable = documents.printable_digest(session, now=NOW)
    digest = printable.context["digest"]
    assert digest.entry_count == 0 and digest.areas == ()
    pdf = printable.pdf()
    text = text_of(pdf)
    assert "FAQ digest" in text and "No published entries" in text
    metadata = read(pdf).metadata
    assert metadata is not None and metadata.title == "FAQ digest"
    assert metadata.author == documents.AUTHOR and metadata.creation_date == NOW


def test_markdown_prints_only_web_links_and_no_markup() -> None:
    html = documents.markdown(
        "See the [card sheet](../payment-methods/pm-card.md), [docs](https://docs.paymongo.com/x),"
        " ![logo](file:///etc/passwd), [guide](relay:guide-checkout) and <img src=x>."
    )
    assert '<a href="https://docs.paymongo.com/x">docs</a>' in html
    assert "See the card sheet," in html and "guide and" in html
    assert "<img" not in html and "&lt;img src=x&gt;" in html
    assert 'href="../' not in html and 'href="file:' not in html and "relay:" not in html

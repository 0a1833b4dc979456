"""View models of the FAQ documents agents print: the FAQ digest, and per product area the
one-page quick-reference card and the training module (with its self-check quiz).

Templates get only these frozen dataclasses, never ORM objects. Everything in them comes
from reviewed or measured sources: published FAQ entries, the area's themes ranked by
impact, the error catalogue (`briefs/errors.yaml`), the content library's fact sheets and
guides, and the configuration checks (`briefs/checks.yaml`). Text that people or merchants
typed (theme titles, FAQ entries) is redacted again and loses its redaction placeholders,
so a printed page never shows a secret or a `[REDACTED:…]` mark.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from service.content import checks as content_checks
from service.content.checks import CheckLine
from service.content.library import ContentError, Document, library, split_markdown
from service.errors import NotFound
from service.escalation import mapping as escalation_mapping
from service.faq import service as faq_service
from service.faq.schemas import PublishedFaq
from service.render.markdown import to_html
from service.render.pdf import PdfMetadata, render_html, render_pdf
from service.structuring.catalogue import ErrorCode, load_catalogue
from service.structuring.redaction import redact_text
from service.structuring.taxonomy import PRODUCT_AREAS
from service.themes import service as themes_service
from service.themes.models import Theme

# Readable names of the product areas (one table, shared with escalation).
AREA_TITLES = escalation_mapping.AREA_LABELS
# Fact sheets name payment methods in `applies_to`; these are the methods of each area.
AREA_METHODS: dict[str, tuple[str, ...]] = {
    "cards": ("card",),
    "ewallets": ("gcash", "paymaya", "grab_pay", "shopee_pay"),
    "qrph": ("qrph",),
    "online_banking": ("dob",),
    "bnpl": ("billease",),
}
GUIDE_SECTIONS = ("What it is", "How it works", "Testing")
# Library Markdown as safe print HTML (escaped, no images, web links only): the briefs' helper.
markdown = to_html
DIGEST_TEMPLATE = "faq/print/digest.html"
CARD_TEMPLATE = "faq/print/quick_reference.html"
TRAINING_TEMPLATE = "faq/print/training.html"
AUTHOR = "Relay — Customer Success"
TOP_THEMES = 5
# The card must fit one A4 page whatever the data: counts and characters are capped.
CARD_LIMITS = {
    "codes": 6,
    "checks": 5,
    "questions": 4,
    "title": 90,
    "meaning": 130,
    "fix": 190,
    "check": 150,
    "question": 110,
}
QUIZ_SIZE = 5
DISTRACTORS = 3
REMOVED = "(removed)"
_PLACEHOLDER = re.compile(r"\[REDACTED:[A-Z_]+\]")


class ProductAreaNotFound(NotFound):
    code = "product_area_not_found"


def require_area(area: str) -> str:
    """`area` if it is a TAXONOMY product area, else ProductAreaNotFound naming it."""
    if area not in PRODUCT_AREAS:
        raise ProductAreaNotFound(
            f"unknown product area {area!r}",
            details={"product_area": area, "known": list(PRODUCT_AREAS)},
        )
    return area


# ---------------------------------------------------------------- view models


@dataclass(frozen=True)
class ThemeLine:
    """One recurring problem of the area, as measured."""

    rank: int
    title: str
    status: str
    records: int
    merchants: int
    codes: tuple[str, ...]
    last_seen: str


@dataclass(frozen=True)
class CodeLine:
    """A catalogue code: what it means and what the merchant should do."""

    code: str
    kind: str
    meaning: str
    fix: str
    http_status: int | None
    uncertain: bool


@dataclass(frozen=True)
class FaqLine:
    """A published FAQ entry, its Markdown rendered (raw HTML in it escaped)."""

    anchor: str
    question: str
    body: Markup
    version: int
    published: str


@dataclass(frozen=True)
class Guide:
    """The API basics a content-library document gives for the area."""

    id: str
    title: str
    version: str
    sections: tuple[tuple[str, Markup], ...]


@dataclass(frozen=True)
class ErrorPattern:
    """A top theme with the catalogue's reading of the codes merchants quote in it."""

    theme: ThemeLine
    codes: tuple[CodeLine, ...]
    known_fix: Markup | None


@dataclass(frozen=True)
class QuizQuestion:
    """A multiple-choice question; `answer` indexes `options`."""

    number: int
    prompt: str
    options: tuple[str, ...]
    answer: int
    explanation: str

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple("ABCDEFGH"[: len(self.options)])

    @property
    def answer_letter(self) -> str:
        return self.letters[self.answer]


@dataclass(frozen=True)
class DigestArea:
    anchor: str
    area: str
    title: str
    entries: tuple[FaqLine, ...]

    @property
    def label(self) -> str:
        """The table-of-contents line."""
        return f"{self.title} ({len(self.entries)})"


@dataclass(frozen=True)
class FaqDigest:
    title: str
    generated: str
    generated_at: datetime
    areas: tuple[DigestArea, ...]
    entry_count: int


@dataclass(frozen=True)
class QuickReference:
    title: str
    area: str
    area_title: str
    generated: str
    generated_at: datetime
    themes: tuple[ThemeLine, ...]
    codes: tuple[CodeLine, ...]
    checks: tuple[CheckLine, ...]
    questions: tuple[str, ...]


@dataclass(frozen=True)
class TrainingModule:
    title: str
    area: str
    area_title: str
    generated: str
    generated_at: datetime
    guides: tuple[Guide, ...]
    patterns: tuple[ErrorPattern, ...]
    codes: tuple[CodeLine, ...]
    checks: tuple[CheckLine, ...]
    faqs: tuple[FaqLine, ...]
    quiz: tuple[QuizQuestion, ...]
    sources: tuple[str, ...]


# ---------------------------------------------------------------- builders


def faq_digest(
    session: Session, *, product_area: str | None = None, now: datetime | None = None
) -> FaqDigest:
    """Every published FAQ entry (or one area's), grouped by product area."""
    area = require_area(product_area) if product_area is not None else None
    grouped: dict[str, list[PublishedFaq]] = {}
    for entry in faq_service.published_faqs(session, product_area=area):
        grouped.setdefault(entry.product_area or "other", []).append(entry)
    areas = tuple(
        DigestArea(
            anchor=f"area-{name}",
            area=name,
            title=AREA_TITLES[name],
            entries=tuple(_faq_line(e) for e in sorted(grouped[name], key=_question_key)),
        )
        for name in PRODUCT_AREAS
        if name in grouped
    )
    when = _now(now)
    return FaqDigest(
        title="FAQ digest" if area is None else f"FAQ digest: {AREA_TITLES[area]}",
        generated=_display(when),
        generated_at=when,
        areas=areas,
        entry_count=sum(len(a.entries) for a in areas),
    )


def quick_reference(session: Session, *, area: str, now: datetime | None = None) -> QuickReference:
    """The one-page card for frontline agents: top themes, codes, checks, FAQ questions."""
    require_area(area)
    themes = _top_themes(session, area)
    when = _now(now)
    return QuickReference(
        title=f"{AREA_TITLES[area]}: quick reference",
        area=area,
        area_title=AREA_TITLES[area],
        generated=_display(when),
        generated_at=when,
        themes=tuple(_card_theme(rank, t) for rank, t in enumerate(themes, 1)),
        codes=tuple(_card_code(e) for e in _area_codes(area, themes)[: CARD_LIMITS["codes"]]),
        checks=tuple(_card_check(c) for c in checks_for(area)[: CARD_LIMITS["checks"]]),
        questions=tuple(
            _clip(_clean(e.question), CARD_LIMITS["question"])
            for e in faq_service.published_faqs(session, product_area=area)
        )[: CARD_LIMITS["questions"]],
    )


def training_module(session: Session, *, area: str, now: datetime | None = None) -> TrainingModule:
    """Onboarding and refreshers for one area: basics, error patterns, checks and a quiz."""
    require_area(area)
    themes = _top_themes(session, area)
    codes = _area_codes(area, themes)
    guides = _guides(area)
    checks = checks_for(area)
    when = _now(now)
    return TrainingModule(
        title=f"{AREA_TITLES[area]}: training module",
        area=area,
        area_title=AREA_TITLES[area],
        generated=_display(when),
        generated_at=when,
        guides=tuple(_guide(d) for d in guides),
        patterns=tuple(_pattern(session, rank, t) for rank, t in enumerate(themes, 1)),
        codes=tuple(_code_line(e) for e in codes),
        checks=checks,
        faqs=tuple(_faq_line(e) for e in faq_service.published_faqs(session, product_area=area)),
        quiz=quiz(area=area, codes=codes, themes=themes, checks=checks),
        sources=_sources(guides),
    )


# ---------------------------------------------------------------- printing


@dataclass(frozen=True)
class Printable:
    """A document ready to render: its print template, view model and PDF metadata."""

    template: str
    context: dict[str, Any]
    metadata: PdfMetadata
    filename: str

    def pdf(self) -> bytes:
        """The PDF (blocking: call it from a worker or a thread, never the event loop)."""
        return render_pdf(self.template, self.context, metadata=self.metadata)

    def html(self) -> str:
        """The same document as print HTML (for previews)."""
        return render_html(self.template, self.context)


def printable_digest(
    session: Session, *, product_area: str | None = None, now: datetime | None = None
) -> Printable:
    """The FAQ digest, ready to render."""
    digest = faq_digest(session, product_area=product_area, now=now)
    subject = "Published technical FAQ entries for agents' refreshers"
    name = f"faq-digest-{product_area}.pdf" if product_area else "faq-digest.pdf"
    return Printable(DIGEST_TEMPLATE, {"digest": digest}, _metadata(digest, subject), name)


def printable_quick_reference(
    session: Session, *, area: str, now: datetime | None = None
) -> Printable:
    """The area's quick-reference card, ready to render."""
    card = quick_reference(session, area=area, now=now)
    subject = f"Quick reference for frontline agents: {card.area_title}"
    name = f"{area}-quick-reference.pdf"
    return Printable(CARD_TEMPLATE, {"card": card}, _metadata(card, subject), name)


def printable_training(session: Session, *, area: str, now: datetime | None = None) -> Printable:
    """The area's training module, ready to render."""
    module = training_module(session, area=area, now=now)
    subject = f"Training module for agents: {module.area_title}"
    name = f"{area}-training.pdf"
    return Printable(TRAINING_TEMPLATE, {"module": module}, _metadata(module, subject), name)


def _metadata(document: FaqDigest | QuickReference | TrainingModule, subject: str) -> PdfMetadata:
    return PdfMetadata(
        title=document.title, author=AUTHOR, subject=subject, created=document.generated_at
    )


# ---------------------------------------------------------------- sources


def _top_themes(session: Session, area: str) -> list[Theme]:
    filters = themes_service.ThemeFilters(product_area=area)
    return themes_service.list_themes(session, filters=filters, limit=TOP_THEMES)


def _area_codes(area: str, themes: Sequence[Theme]) -> list[ErrorCode]:
    """Codes merchants quote in the top themes (most quoted first), then the area's own."""
    catalogue = load_catalogue()
    quoted = (catalogue.lookup(code) for theme in themes for code in theme.error_codes)
    own = (entry for entry in catalogue.entries if entry.product_area == area)
    found: dict[str, ErrorCode] = {}
    for entry in (*quoted, *own):
        if entry is not None:
            found.setdefault(entry.code, entry)
    return list(found.values())


def checks_for(area: str) -> tuple[CheckLine, ...]:
    """The configuration checks to run for `area` (from `briefs/checks.yaml`)."""
    return content_checks.area_checks(library(), require_area(area))


def _guides(area: str) -> list[Document]:
    """Published library documents for the area or its methods that explain the basics."""
    labels = (area, *AREA_METHODS.get(area, ()))
    found = {d.id: d for label in labels for d in library().applying_to(label)}
    return [
        d
        for _, d in sorted(found.items())
        if d.status == "published" and any(d.section(title) for title in GUIDE_SECTIONS)
    ]


def _sources(guides: Iterable[Document]) -> tuple[str, ...]:
    catalogue = load_catalogue()
    cited = [f"{d.title} ({d.id}, version {d.version})" for d in guides]
    cited.append(f"{catalogue.title} (reviewed {catalogue.reviewed_at.isoformat()})")
    checks = library().get(content_checks.CHECKS_DOCUMENT)
    if checks is not None:
        cited.append(f"{checks.title} ({checks.id}, version {checks.version})")
    return tuple(cited)


# ---------------------------------------------------------------- lines


def _theme_line(rank: int, theme: Theme) -> ThemeLine:
    return ThemeLine(
        rank=rank,
        title=_clean(theme.title) or f"Untitled theme {theme.id}",
        status=theme.status.replace("_", " "),
        records=theme.record_count,
        merchants=theme.merchant_count,
        codes=tuple(theme.error_codes[:5]),
        last_seen=theme.last_seen.date().isoformat() if theme.last_seen else "",
    )


def _code_line(entry: ErrorCode) -> CodeLine:
    return CodeLine(
        code=entry.code,
        kind=entry.kind,
        meaning=entry.meaning,
        fix=entry.fix,
        http_status=entry.http_status,
        uncertain=entry.uncertain,
    )


def _card_theme(rank: int, theme: Theme) -> ThemeLine:
    line = _theme_line(rank, theme)
    return replace(line, title=_clip(line.title, CARD_LIMITS["title"]), codes=line.codes[:3])


def _card_code(entry: ErrorCode) -> CodeLine:
    line = _code_line(entry)
    meaning, fix = _clip(line.meaning, CARD_LIMITS["meaning"]), _clip(line.fix, CARD_LIMITS["fix"])
    return replace(line, meaning=meaning, fix=fix)


def _card_check(check: CheckLine) -> CheckLine:
    # The card has room for the check itself; the training module explains why.
    return check.model_copy(update={"check": _clip(check.check, CARD_LIMITS["check"])})


def _pattern(session: Session, rank: int, theme: Theme) -> ErrorPattern:
    catalogue = load_catalogue()
    entries = (catalogue.lookup(code) for code in theme.error_codes[:5])
    known = faq_service.known_fix_text(session, theme_id=theme.id)
    return ErrorPattern(
        theme=_theme_line(rank, theme),
        codes=tuple(_code_line(e) for e in entries if e is not None),
        known_fix=markdown(scrub(known)) if known else None,
    )


def _faq_line(entry: PublishedFaq) -> FaqLine:
    return FaqLine(
        anchor=f"faq-{entry.id}",
        question=_clean(entry.question),
        body=markdown(scrub(_body(entry))),
        version=entry.version,
        published=entry.published_at.date().isoformat(),
    )


def _guide(document: Document) -> Guide:
    parts = ((title, document.section(title)) for title in GUIDE_SECTIONS)
    return Guide(
        id=document.id,
        title=document.title,
        version=document.version,
        sections=tuple((title, markdown(text)) for title, text in parts if text),
    )


# ---------------------------------------------------------------- the quiz


def quiz(
    *, area: str, codes: Sequence[ErrorCode], themes: Sequence[Theme], checks: Sequence[CheckLine]
) -> tuple[QuizQuestion, ...]:
    """Deterministic self-check questions from the area's codes (theme-quoted ones first),
    then its checks; distractors come from other codes' and other areas' answers."""
    quoted_in = {code: t for t in reversed(themes) for code in t.error_codes}
    questions: list[QuizQuestion] = []
    for entry in codes[:QUIZ_SIZE]:
        theme = quoted_in.get(entry.code)
        questions.append(_code_question(len(questions) + 1, entry, theme, area))
    for check in checks[: QUIZ_SIZE - len(questions)]:
        questions.append(_check_question(len(questions) + 1, check, area))
    return tuple(questions)


def _code_question(number: int, entry: ErrorCode, theme: Theme | None, area: str) -> QuizQuestion:
    # Alternate between "what does it mean" and "what should they do".
    about_fix = number % 2 == 1
    where = f' in the theme "{_clean(theme.title)}"' if theme is not None else ""
    ask = "what should they do?" if about_fix else "what does it mean?"
    correct = entry.fix if about_fix else entry.meaning
    # Related codes (fraudulent, processor_blocked …) share their answers: never distractors.
    excluded = {entry.code, *entry.related}
    others = sorted(
        (e for e in load_catalogue().entries if e.code not in excluded),
        key=lambda e: (e.product_area != area, _hash(entry.code, e.code)),
    )
    pool = [e.fix if about_fix else e.meaning for e in others]
    return _question(
        number,
        prompt=f"A merchant{where} sees {entry.code} — {ask}",
        correct=correct,
        pool=pool,
        seed=entry.code,
        explanation=(
            f"{entry.code} means: {entry.meaning}"
            if about_fix
            else f"Tell the merchant: {entry.fix}"
        ),
    )


def _check_question(number: int, check: CheckLine, area: str) -> QuizQuestion:
    table = content_checks.checks_table(library())
    others = [(a, c) for a, checks in table.items() if a != area for c in checks]
    others.sort(key=lambda item: _hash(check.check, item[1].check))
    return _question(
        number,
        prompt=f"Which of these is a configuration check for {AREA_TITLES[area]} tickets?",
        correct=check.check,
        pool=[c.check for _, c in others],
        seed=check.check,
        explanation=f"Why: {check.why}",
    )


def _question(
    number: int, *, prompt: str, correct: str, pool: Iterable[str], seed: str, explanation: str
) -> QuizQuestion:
    distractors: list[str] = []
    for text in pool:
        if not _alike(text, correct) and not any(_alike(text, d) for d in distractors):
            distractors.append(text)
        if len(distractors) == DISTRACTORS:
            break
    answer = _hash(seed, "answer") % (len(distractors) + 1)
    options = (*distractors[:answer], correct, *distractors[answer:])
    return QuizQuestion(
        number=number, prompt=prompt, options=options, answer=answer, explanation=explanation
    )


def _alike(one: str, other: str) -> bool:
    # Answers that open with the same words read as the same answer to a trainee.
    return one.lower().split()[:6] == other.lower().split()[:6]


def _hash(*parts: str) -> int:
    # Stable across processes (unlike hash()): the same data always gives the same quiz.
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


# ---------------------------------------------------------------- text


def scrub(text: str) -> str:
    """`text` redacted again, with redaction placeholders replaced by a plain word."""
    return _PLACEHOLDER.sub(REMOVED, redact_text(text).text)


def _clean(text: str) -> str:
    return " ".join(scrub(text).split())


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (with an ellipsis)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.—-")
    return cut + "…"


def _body(entry: PublishedFaq) -> str:
    # An exported entry carries its front matter; the template prints question and version.
    try:
        return split_markdown(entry.markdown, label=f"faq:{entry.id}")[1]
    except ContentError:
        return entry.markdown


def _question_key(entry: PublishedFaq) -> tuple[str, str]:
    return entry.question.lower(), entry.id


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _display(when: datetime) -> str:
    return when.strftime("%d %B %Y, %H:%M UTC")

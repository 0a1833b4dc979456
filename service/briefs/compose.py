"""Composition: a brief request plus the content library, published FAQs and open themes
become the plain view model the print and page templates show (no logic in templates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.briefs import answers as answers_module
from service.briefs.content import BriefContent, checklist_items, test_cards
from service.briefs.flows import flow_diagram
from service.briefs.recommend import CHANNEL_LABELS, Recommendation, recommend
from service.briefs.schemas import SEGMENT_LABELS, BriefIn
from service.content.library import Document
from service.faq import service as faq_service
from service.faq.schemas import PublishedFaq
from service.render.markdown import inline_html, to_html
from service.themes.models import Theme, ThemeStatus

METHOD_LABELS = {
    "card": "Cards",
    "gcash": "GCash",
    "paymaya": "Maya",
    "grab_pay": "GrabPay",
    "shopee_pay": "ShopeePay",
    "qrph": "QR Ph",
    "dob": "Online banking",
    "billease": "BillEase",
}
METHOD_AREAS = {
    "card": "cards",
    "gcash": "ewallets",
    "paymaya": "ewallets",
    "grab_pay": "ewallets",
    "shopee_pay": "ewallets",
    "qrph": "qrph",
    "dob": "online_banking",
    "billease": "bnpl",
}
CHANNEL_AREAS = {
    "payment_intents_api": "payment_intents",
    "checkout": "checkout",
    "links": "links",
    "shopify": "plugins",
    "woocommerce": "plugins",
}
SHEET_SECTIONS = ("What it is", "How the payment flows", "Limits", "Refunds", "Common failures")
GUIDE_SECTIONS = ("When to choose it", "How it works", "Steps", "Webhooks")
# Fixed is solved; every other status, won't-fix included, is something to plan around.
CLOSED_STATUSES = (ThemeStatus.FIXED.value,)
MAX_LIMITATIONS = 12
MAX_FAQS = 12
TOC = (
    ("summary", "Executive summary"),
    ("path", "Recommended integration path"),
    ("flow", "Payment flow"),
    ("methods", "Payment methods"),
    ("faqs", "Frequently asked questions"),
    ("limitations", "Known limitations"),
    ("questions", "Your questions"),
    ("checklist", "Go-live checklist"),
    ("tests", "Test plan"),
    ("sources", "Sources and versions"),
)


@dataclass(frozen=True)
class Section:
    title: str
    html: Markup


@dataclass(frozen=True)
class MethodFacts:
    id: str
    label: str
    document: Document | None
    sections: list[Section]
    testing: Markup


@dataclass(frozen=True)
class Limitation:
    title: str
    status: str
    jira_keys: list[str]
    scope: str
    merchants: int
    records: int


@dataclass(frozen=True)
class Faq:
    question: str
    html: Markup
    version: int


@dataclass(frozen=True)
class SourceRow:
    kind: str
    id: str
    title: str
    version: str
    reviewed: str


@dataclass
class BriefView:
    """Everything a brief shows; templates only format it."""

    request: dict[str, Any]
    recommendation: Recommendation
    requested_label: str
    methods: list[MethodFacts]
    guide: Document | None
    guide_sections: list[Section]
    guide_limitations: Markup
    guide_testing: Markup
    diagram: Markup
    faqs: list[Faq]
    limitations: list[Limitation]
    answers: list[answers_module.Answer]
    to_confirm: list[str]
    checklist: list[Markup]
    test_cards: list[tuple[str, str]]
    sources: list[SourceRow]
    toc: list[dict[str, str]] = field(default_factory=list)

    @property
    def method_labels(self) -> list[str]:
        return [m.label for m in self.methods]

    @property
    def segment_text(self) -> str:
        segment = self.request.get("segment")
        return SEGMENT_LABELS[segment] if segment else "not given"

    @property
    def volume_text(self) -> str:
        return peso(self.request.get("monthly_volume_php"))

    @property
    def ticket_text(self) -> str:
        return peso(self.request.get("average_ticket_php"))


def peso(amount: float | None) -> str:
    """₱1,234,567 (₱1,234.50 when there are centavos), or "not given"."""
    if amount is None:
        return "not given"
    return f"₱{amount:,.0f}" if float(amount).is_integer() else f"₱{amount:,.2f}"


def compose(session: Session, *, request: BriefIn, content: BriefContent) -> BriefView:
    """The brief for `request` from the library and what the database knows today."""
    recommendation = recommend(request)
    methods = [_method_facts(content.fact_sheets.get(m), m) for m in request.payment_methods]
    guide = content.guides.get(recommendation.channel)
    faqs = relevant_faqs(session, request=request, channel=recommendation.channel)
    documents = used_documents(request, content, recommendation.channel)
    answered, unanswered = answers_module.answer_questions(
        answers_module.split_questions(request.questions), faqs=faqs, documents=documents
    )
    missing = [
        f"Facts about {m.label}: no reviewed fact sheet yet." for m in methods if not m.document
    ]
    if guide is None:
        missing.append(f"A reviewed guide for {recommendation.label}.")
    view = BriefView(
        request=request.canonical(),
        recommendation=recommendation,
        requested_label=_requested_label(request),
        methods=methods,
        guide=guide,
        guide_sections=_sections(guide, GUIDE_SECTIONS),
        guide_limitations=to_html(guide.section("Limitations")) if guide else Markup(""),
        guide_testing=to_html(guide.section("Testing")) if guide else Markup(""),
        diagram=flow_diagram(recommendation.channel, request.payment_methods),
        faqs=[Faq(f.question, to_html(f.resolution), f.version) for f in faqs],
        limitations=known_limitations(session, request=request, channel=recommendation.channel),
        answers=answered,
        to_confirm=[*recommendation.to_confirm, *missing, *unanswered],
        checklist=[inline_html(item) for item in _checklist(content)],
        test_cards=test_cards(content.fact_sheets["card"]) if _has_card(request, content) else [],
        sources=_source_rows(documents, faqs),
    )
    view.toc = [{"anchor": a, "label": label} for a, label in TOC]
    return view


def used_documents(request: BriefIn, content: BriefContent, channel: str) -> list[Document]:
    """The library documents a brief for `request` relies on (their versions are recorded)."""
    found = [content.fact_sheets[m] for m in request.payment_methods if m in content.fact_sheets]
    for wanted in dict.fromkeys((channel, request.integration_channel)):
        if wanted in content.guides:
            found.append(content.guides[wanted])
    if content.checklist is not None:
        found.append(content.checklist)
    return found


def relevant_faqs(session: Session, *, request: BriefIn, channel: str) -> list[PublishedFaq]:
    """Published FAQs for the chosen methods, their product areas and the channel's area."""
    found = {
        f.id: f
        for f in faq_service.published_faqs(session, payment_methods=request.payment_methods)
    }
    for area in _areas(request.payment_methods, channel):
        for faq in faq_service.published_faqs(session, product_area=area):
            if faq.payment_method in (None, *request.payment_methods):
                found.setdefault(faq.id, faq)
    return sorted(found.values(), key=lambda f: (f.product_area or "", f.question))[:MAX_FAQS]


def known_limitations(session: Session, *, request: BriefIn, channel: str) -> list[Limitation]:
    """Open themes (won't-fix included) on the chosen methods, their areas or the channel's."""
    areas = _areas(request.payment_methods, channel)
    query = (
        select(Theme)
        .where(
            Theme.merged_into.is_(None),
            Theme.status.not_in(CLOSED_STATUSES),
            or_(Theme.record_count >= 2, Theme.status != ThemeStatus.NEW.value),
            or_(
                Theme.payment_method.in_(request.payment_methods),
                Theme.product_area.in_(areas) & Theme.payment_method.is_(None),
            ),
        )
        .order_by(Theme.rank_score.desc(), Theme.id)
        .limit(MAX_LIMITATIONS)
    )
    return [_limitation(t) for t in session.scalars(query)]


def _limitation(theme: Theme) -> Limitation:
    scope = METHOD_LABELS.get(theme.payment_method or "", theme.product_area or "other")
    return Limitation(
        title=theme.title or "(untitled theme)",
        status=theme.status.replace("_", " "),
        jira_keys=list(theme.jira_keys or []),
        scope=scope,
        merchants=theme.merchant_count,
        records=theme.record_count,
    )


def _areas(methods: Sequence[str], channel: str) -> list[str]:
    areas = [METHOD_AREAS[m] for m in methods] + [CHANNEL_AREAS.get(channel, "checkout")]
    return list(dict.fromkeys([*areas, "webhooks"]))


def _method_facts(document: Document | None, method: str) -> MethodFacts:
    return MethodFacts(
        id=method,
        label=METHOD_LABELS[method],
        document=document,
        sections=_sections(document, SHEET_SECTIONS),
        testing=to_html(document.section("Testing")) if document else Markup(""),
    )


def _sections(document: Document | None, titles: Sequence[str]) -> list[Section]:
    if document is None:
        return []
    found = ((title, document.section(title)) for title in titles)
    return [Section(title, to_html(text)) for title, text in found if text]


def _checklist(content: BriefContent) -> list[str]:
    return checklist_items(content.checklist) if content.checklist else []


def _has_card(request: BriefIn, content: BriefContent) -> bool:
    return "card" in request.payment_methods and "card" in content.fact_sheets


def _requested_label(request: BriefIn) -> str:
    if request.integration_channel == "other":
        return f"Other platform ({request.platform_name})"
    return CHANNEL_LABELS[request.integration_channel]


def _source_rows(documents: list[Document], faqs: list[PublishedFaq]) -> list[SourceRow]:
    rows = [
        SourceRow("Library", d.id, d.title, d.version, d.reviewed_at.isoformat()) for d in documents
    ]
    rows += [
        SourceRow("FAQ", f.id, f.question, f"v{f.version}", f.published_at.date().isoformat())
        for f in faqs
    ]
    return rows


def source_versions(documents: list[Document], faqs: list[PublishedFaq]) -> dict[str, Any]:
    """What a brief records it relied on; compared later to say it is out of date."""
    return {
        "documents": {d.id: d.version for d in documents},
        "faqs": {f.id: f.version for f in faqs},
    }

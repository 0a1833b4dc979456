"""FAQ entries: generation from themes, review workflow, versions, staleness.

Workflow: `draft` → `approved` (a cs/admin person approves the current version) →
`published`; any edit or regeneration adds a version and returns the entry to `draft`.
The product moving on (a Jira fix shipped, a source document changed, a review too old)
makes an entry `stale` with the reason; stale entries are withheld from readers (briefs,
write-back) until a person re-reviews them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.content.library import Library, library, sections
from service.db import new_id, utcnow
from service.errors import Conflict, NotFound, RelayError
from service.faq import generation
from service.faq import markdown as faq_markdown
from service.faq.models import FaqEntry, FaqStatus, FaqVersion
from service.faq.schemas import PublishedFaq
from service.outbound import service as outbound
from service.structuring.catalogue import load_catalogue
from service.themes.models import Theme, ThemeStatus
from service.worker import jobs

GENERATOR = "relay:generator"
REVIEWER_ROLES = frozenset({"cs", "admin"})  # may approve and publish
EDITOR_ROLES = frozenset({"cs", "product", "admin"})  # may edit the text
HELP_CENTER_TASK = "faq.help_center_publish"
GENERATE_TASK = "faq.generate"

# Rewrites a generated (question, body) for clarity; returns the body to store.
Rewriter = Callable[[str, str], str]


class FaqNotFound(NotFound):
    code = "faq_not_found"


class FaqStateConflict(Conflict):
    code = "faq_state_conflict"


class FaqReviewForbidden(RelayError):
    code = "faq_review_forbidden"
    status = 403


@dataclass
class GenerationReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading


def get(session: Session, *, faq_id: str) -> FaqEntry:
    """One entry, or FaqNotFound."""
    entry = session.get(FaqEntry, faq_id)
    if entry is None:
        raise FaqNotFound(f"no FAQ entry {faq_id!r}", details={"id": faq_id})
    return entry


def list_entries(
    session: Session, *, product_area: str | None = None, status: str | None = None
) -> list[FaqEntry]:
    """Entries, newest change first, optionally of one product area and/or status."""
    query = select(FaqEntry)
    if product_area is not None:
        query = query.where(FaqEntry.product_area == product_area)
    if status is not None:
        query = query.where(FaqEntry.status == status)
    return list(session.scalars(query.order_by(FaqEntry.updated_at.desc(), FaqEntry.id)))


def versions(session: Session, *, faq_id: str) -> list[FaqVersion]:
    """Every version of an entry, newest first."""
    get(session, faq_id=faq_id)
    query = select(FaqVersion).where(FaqVersion.entry_id == faq_id)
    return list(session.scalars(query.order_by(FaqVersion.number.desc())))


def version(session: Session, *, faq_id: str, number: int | None = None) -> FaqVersion:
    """One version of an entry (the current one by default)."""
    entry = get(session, faq_id=faq_id)
    wanted = entry.current_version if number is None else number
    found = session.scalar(
        select(FaqVersion).where(FaqVersion.entry_id == faq_id, FaqVersion.number == wanted)
    )
    if found is None:
        raise FaqNotFound(f"FAQ {faq_id!r} has no version {wanted}", details={"version": wanted})
    return found


def markdown_doc(entry: FaqEntry, text: FaqVersion) -> faq_markdown.MarkdownDoc:
    """The front-matter view of one version of an entry."""
    reviewed = entry.reviewed_at or text.created_at
    return faq_markdown.MarkdownDoc(
        id=document_id(entry.id),
        question=text.question,
        body=text.body,
        status=entry.status,
        reviewed_at=reviewed.date(),
        applies_to=tuple(x for x in (entry.product_area, entry.payment_method) if x),
        version=text.number,
        theme_id=entry.theme_id,
    )


def document_id(faq_id: str) -> str:
    """The entry's id as the content library spells ids (`faq-3f2a…`)."""
    return faq_id.replace("_", "-")


def export_docs(session: Session, *, status: str | None = None) -> list[faq_markdown.MarkdownDoc]:
    """Entries as Markdown documents: the published text of published entries, else current."""
    docs = []
    for entry in list_entries(session, status=status):
        number = entry.published_version if entry.status == FaqStatus.PUBLISHED else None
        docs.append(markdown_doc(entry, version(session, faq_id=entry.id, number=number)))
    return sorted(docs, key=lambda d: d.id)


# ---------------------------------------------------------------- generation


def generate(
    session: Session,
    *,
    settings: Settings,
    theme_ids: Sequence[str] | None = None,
    rewrite: Rewriter | None = None,
    content: Library | None = None,
) -> GenerationReport:
    """Draft or refresh the entry of every qualifying theme (or of `theme_ids` only)."""
    report = GenerationReport()
    themes = generation.qualifying_themes(session, min_merchants=settings.faq_min_merchants)
    if theme_ids is not None:
        themes = [t for t in themes if t.id in set(theme_ids)]
    content = content or library()
    for theme in themes:
        outcome, entry = generate_for_theme(session, theme=theme, rewrite=rewrite, content=content)
        getattr(report, outcome).append(entry.id)
    check_staleness(session, settings=settings, content=content)
    return report


def generate_for_theme(
    session: Session, *, theme: Theme, rewrite: Rewriter | None, content: Library
) -> tuple[str, FaqEntry]:
    """("created" | "updated" | "unchanged", entry): a new version only if the draft changed."""
    entry = session.scalar(select(FaqEntry).where(FaqEntry.theme_id == theme.id))
    draft = generation.draft_for(
        session,
        theme=theme,
        catalogue=load_catalogue(),
        library=content,
        fix_version=entry.fix_version if entry else None,
    )
    body = faq_markdown.body_of(draft)
    digest = generation.draft_hash(draft.question, body)
    previous = _last_generated(session, entry) if entry else None
    if previous is not None and previous.generated_hash == digest:
        return "unchanged", entry  # type: ignore[return-value]
    created = entry is None
    if entry is None:
        entry = FaqEntry(id=new_id("faq"), theme_id=theme.id, current_version=0)
        session.add(entry)
    entry.product_area, entry.payment_method = draft.product_area, draft.payment_method
    note = _change_note(entry, previous, draft, created=created, theme=theme)
    stored, kind = _rewritten(draft.question, body, rewrite)
    add_version(
        session,
        entry=entry,
        question=draft.question,
        body=stored,
        kind=kind,
        author=GENERATOR,
        change_note=note,
        generated_hash=digest,
        sources=draft.sources,
    )
    return ("created" if created else "updated"), entry


def _rewritten(question: str, body: str, rewrite: Rewriter | None) -> tuple[str, str]:
    if rewrite is None:
        return body, "generated"
    better = rewrite(question, body)
    return (better, "rewritten") if better != body else (body, "generated")


def _last_generated(session: Session, entry: FaqEntry) -> FaqVersion | None:
    query = (
        select(FaqVersion)
        .where(FaqVersion.entry_id == entry.id, FaqVersion.generated_hash.is_not(None))
        .order_by(FaqVersion.number.desc())
    )
    return session.scalars(query.limit(1)).first()


def _change_note(
    entry: FaqEntry,
    previous: FaqVersion | None,
    draft: generation.Draft,
    *,
    created: bool,
    theme: Theme,
) -> str:
    if created or previous is None:
        return f"First draft from theme “{theme.title}” ({theme.merchant_count} merchants)."
    notes = generation.describe_changes(previous.sources, draft.sources)
    if entry.status == FaqStatus.STALE and entry.stale_reason:
        notes.insert(0, f"was stale: {entry.stale_reason}")
    return "Regenerated: " + ("; ".join(notes) or "the generated text changed") + "."


# ---------------------------------------------------------------- versions and review


def add_version(
    session: Session,
    *,
    entry: FaqEntry,
    question: str,
    body: str,
    kind: str,
    author: str,
    change_note: str | None = None,
    generated_hash: str | None = None,
    sources: dict[str, Any] | None = None,
) -> FaqVersion:
    """A new current version (with its diff); the entry goes back to `draft` for review."""
    before = version(session, faq_id=entry.id) if entry.current_version else None
    number = entry.current_version + 1
    text = FaqVersion(
        entry_id=entry.id,
        number=number,
        question=question,
        body=body,
        kind=kind,
        author=author,
        diff=_diff(before, question, body, number),
        change_note=change_note,
        generated_hash=generated_hash,
        sources=sources if sources is not None else (before.sources if before else {}),
        created_at=utcnow(),
    )
    session.add(text)
    entry.current_version, entry.question = number, question
    entry.status, entry.updated_at = FaqStatus.DRAFT.value, utcnow()
    session.flush()
    return text


def _diff(before: FaqVersion | None, question: str, body: str, number: int) -> str:
    old = f"# {before.question}\n\n{before.body}" if before else ""
    new = f"# {question}\n\n{body}"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"v{number - 1}" if before else "empty",
        tofile=f"v{number}",
    )
    return "".join(lines)


def edit(
    session: Session, *, faq_id: str, question: str, body: str, actor: str, role: str | None
) -> FaqVersion:
    """A person's edit: a new version to review (nothing changes when the text is the same)."""
    if role not in EDITOR_ROLES:
        raise FaqReviewForbidden("editing FAQ entries needs the cs, product or admin role")
    entry = get(session, faq_id=faq_id)
    current = version(session, faq_id=faq_id)
    question, body = question.strip(), body.strip() + "\n"
    if not question:
        raise FaqStateConflict("question must not be empty", details={"field": "question"})
    if (question, body) == (current.question, current.body):
        return current
    return add_version(
        session, entry=entry, question=question, body=body, kind="edited", author=actor
    )


def approve(
    session: Session, *, faq_id: str, actor: str, role: str | None, number: int | None = None
) -> FaqEntry:
    """Approve the current version (`number`, when given, must be it: what the reviewer saw)."""
    _require_reviewer(role, "approve")
    entry = get(session, faq_id=faq_id)
    if number is not None and number != entry.current_version:
        raise FaqStateConflict(
            f"version {number} is no longer current (now {entry.current_version}); review again",
            details={"current_version": entry.current_version},
        )
    if entry.status not in (FaqStatus.DRAFT, FaqStatus.STALE):
        raise FaqStateConflict(f"entry is {entry.status}; only a draft or stale entry is approved")
    now = utcnow()
    entry.status, entry.approved_version = FaqStatus.APPROVED.value, entry.current_version
    entry.approved_by, entry.reviewed_at, entry.updated_at = actor, now, now
    entry.stale_reason = entry.stale_since = None  # re-reviewed: true to the product again
    return entry


def publish(
    session: Session, *, faq_id: str, actor: str, role: str | None, settings: Settings
) -> FaqEntry:
    """Publish the approved current version; never anything unapproved."""
    _require_reviewer(role, "publish")
    entry = get(session, faq_id=faq_id)
    current = entry.approved_version == entry.current_version
    if entry.status != FaqStatus.APPROVED or not current:
        raise FaqStateConflict(
            f"entry is {entry.status}: only an approved current version can be published",
            details={"status": entry.status, "approved_version": entry.approved_version},
        )
    now = utcnow()
    entry.status, entry.published_version = FaqStatus.PUBLISHED.value, entry.current_version
    entry.published_by, entry.published_at, entry.updated_at = actor, now, now
    key = f"{entry.id}:{entry.current_version}"
    data = {"id": entry.id, "version": entry.current_version, "question": entry.question}
    outbound.emit(session, event_type="faq.published", key=f"faq.published:{key}", data=data)
    if help_center_configured(settings):
        payload = {"faq_id": entry.id, "version": entry.current_version}
        jobs.enqueue(session, task=HELP_CENTER_TASK, key=f"faq.hc:{key}", payload=payload)
    return entry


def help_center_configured(settings: Settings) -> bool:
    return bool(
        settings.zendesk_help_center_section_id
        and settings.zendesk_url
        and settings.zendesk_email
        and settings.zendesk_api_token
    )


def _require_reviewer(role: str | None, action: str) -> None:
    if role not in REVIEWER_ROLES:
        raise FaqReviewForbidden(f"only cs and admin people may {action} FAQ entries")


# ---------------------------------------------------------------- staleness


def mark_stale(session: Session, *, entry: FaqEntry, reason: str) -> None:
    """The entry no longer matches the product: say why; readers stop seeing it."""
    del session
    if entry.status == FaqStatus.STALE and entry.stale_reason == reason:
        return
    entry.status, entry.stale_reason = FaqStatus.STALE.value, reason
    entry.stale_since = entry.updated_at = utcnow()


def check_staleness(
    session: Session,
    *,
    settings: Settings,
    content: Library | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Mark reviewed entries whose review aged out or whose sources changed; their ids."""
    current = (content or library()).versions()
    limit = (now or utcnow()) - timedelta(days=settings.faq_review_max_age_days)
    reviewed = (FaqStatus.APPROVED.value, FaqStatus.PUBLISHED.value)
    marked = []
    for entry in session.scalars(select(FaqEntry).where(FaqEntry.status.in_(reviewed))):
        reason = _stale_reason(session, entry, current, limit, settings.faq_review_max_age_days)
        if reason:
            mark_stale(session, entry=entry, reason=reason)
            marked.append(entry.id)
    return marked


def _stale_reason(
    session: Session, entry: FaqEntry, current: dict[str, str], limit: datetime, days: int
) -> str | None:
    used = version(session, faq_id=entry.id).sources.get("library", {})
    changed = sorted(doc for doc, ver in used.items() if current.get(doc) != ver)
    if changed:
        return f"content sources changed since review: {', '.join(changed)}"
    if entry.reviewed_at is not None and entry.reviewed_at < limit:
        return f"last reviewed {entry.reviewed_at.date()}, more than {days} days ago"
    return None


# ---------------------------------------------------------------- seams other domains call


def published_faqs(
    session: Session,
    *,
    product_area: str | None = None,
    payment_methods: Sequence[str] | None = None,
) -> list[PublishedFaq]:
    """Published entries, optionally for one product area or any of `payment_methods`."""
    # An edit after publishing leaves the published version in place until the next one is
    # approved and published; a stale entry is withheld until it is re-reviewed.
    query = select(FaqEntry).where(
        FaqEntry.published_version.is_not(None), FaqEntry.status != FaqStatus.STALE.value
    )
    conditions = []
    if product_area is not None:
        conditions.append(FaqEntry.product_area == product_area)
    if payment_methods:
        conditions.append(FaqEntry.payment_method.in_(list(payment_methods)))
    if conditions:
        query = query.where(or_(*conditions))
    entries = session.scalars(query.order_by(FaqEntry.published_at.desc(), FaqEntry.id))
    return [_published(session, entry) for entry in entries]


def _published(session: Session, entry: FaqEntry) -> PublishedFaq:
    text = version(session, faq_id=entry.id, number=entry.published_version)
    assert entry.published_at is not None  # set with published_version
    return PublishedFaq(
        id=entry.id,
        question=text.question,
        product_area=entry.product_area,
        payment_method=entry.payment_method,
        theme_id=entry.theme_id,
        markdown=faq_markdown.document(markdown_doc(entry, text)),
        resolution=sections(text.body).get("resolution", ""),
        version=text.number,
        published_at=entry.published_at,
    )


def known_fix_text(session: Session, *, theme_id: str) -> str | None:
    """The published resolution for a theme's problem, if an entry covers it."""
    entry = session.scalar(select(FaqEntry).where(FaqEntry.theme_id == theme_id))
    if entry is None or entry.published_version is None or entry.status == FaqStatus.STALE:
        return None
    return _published(session, entry).resolution or None


def on_theme_status_changed(
    session: Session, *, theme_id: str, status: str, fix_version: str | None
) -> None:
    """React to a theme's engineering status (a shipped fix makes its entries stale)."""
    entry = session.scalar(select(FaqEntry).where(FaqEntry.theme_id == theme_id))
    if entry is None:
        return
    if status == ThemeStatus.FIXED.value and fix_version:
        entry.fix_version = fix_version
        reason = f"the theme's Jira issue was fixed in {fix_version}"
        mark_stale(session, entry=entry, reason=reason)
    elif status == ThemeStatus.WONT_FIX.value and not _generated_under(session, entry, status):
        reason = "PayMongo will not fix the theme's Jira issue: add a known limitation"
        mark_stale(session, entry=entry, reason=reason)


def _generated_under(session: Session, entry: FaqEntry, status: str) -> bool:
    return version(session, faq_id=entry.id).sources.get("theme_status") == status


def markdown_documents(session: Session) -> list[tuple[str, str]]:
    """Every stored entry's current Markdown as (label, text), for `relay docs lint`."""
    return [
        (f"faq:{doc.id}", faq_markdown.document(doc))
        for doc in (markdown_doc(e, version(session, faq_id=e.id)) for e in list_entries(session))
    ]

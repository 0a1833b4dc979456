"""FAQ entries: generation from themes, review workflow, versions, staleness."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.faq.schemas import PublishedFaq


def published_faqs(
    session: Session,
    *,
    product_area: str | None = None,
    payment_methods: Sequence[str] | None = None,
) -> list[PublishedFaq]:
    """Published entries, optionally for one product area or any of `payment_methods`."""
    del session, product_area, payment_methods
    return []


def known_fix_text(session: Session, *, theme_id: str) -> str | None:
    """The published resolution for a theme's problem, if an entry covers it."""
    del session, theme_id
    return None


def on_theme_status_changed(
    session: Session, *, theme_id: str, status: str, fix_version: str | None
) -> None:
    """React to a theme's engineering status (a shipped fix makes its entries stale)."""
    del session, theme_id, status, fix_version


def markdown_documents(session: Session) -> list[tuple[str, str]]:
    """Every stored entry's current Markdown as (label, text), for `relay docs lint`."""
    del session
    return []

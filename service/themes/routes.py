"""Themes API (ranked recurring problems, people's decisions) and the themes pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from service.auth.sessions import CurrentUser
from service.auth.tokens import Principal
from service.db import utcnow
from service.deps import FeedbackReader, FeedbackWriter, SessionDep
from service.render.pages import render_error, render_page
from service.structuring.taxonomy import Category, ProductArea
from service.themes import service as themes_service
from service.themes.models import Theme, ThemeStatus
from service.themes.schemas import (
    MemberOut,
    MergeIn,
    MoveIn,
    RenameIn,
    SplitIn,
    ThemeDetail,
    ThemeList,
    ThemeOut,
    ThemePatch,
)

router = APIRouter(prefix="/api/v1/themes", tags=["themes"])
pages_router = APIRouter(tags=["pages"])

SPARK_WEEKS = 12


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.user_id or principal.id}"


def _out(theme: Theme) -> ThemeOut:
    return ThemeOut.of(theme, themes_service.suggest_fix(theme))


def _detail(session: Session, theme: Theme, limit: int) -> ThemeDetail:
    members = themes_service.members(session, theme_id=theme.id, limit=limit)
    return ThemeDetail(**_out(theme).model_dump(), members=[MemberOut.of(m, f) for m, f in members])


@router.get("")
def list_themes(
    session: SessionDep,
    _: FeedbackReader,
    product_area: ProductArea | None = None,
    status: ThemeStatus | None = None,
    category: Category | None = None,
    min_records: Annotated[int, Query(ge=0, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ThemeList:
    """Live themes ranked by `rank_score` (highest impact first)."""
    filters = themes_service.ThemeFilters(
        product_area=product_area,
        status=status.value if status else None,
        category=category,
        min_records=min_records,
    )
    themes = themes_service.list_themes(session, filters=filters, limit=limit)
    return ThemeList(items=[_out(t) for t in themes])


@router.get("/{theme_id}")
def get_theme(
    theme_id: str,
    session: SessionDep,
    _: FeedbackReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ThemeDetail:
    """One theme and its records, each with why it joined."""
    return _detail(session, themes_service.get(session, theme_id=theme_id), limit)


@router.post("/{theme_id}/merge")
def merge_themes(
    theme_id: str, data: MergeIn, session: SessionDep, principal: FeedbackWriter
) -> ThemeDetail:
    """Merge `theme_ids` into this theme."""
    theme = themes_service.merge(
        session, theme_ids=data.theme_ids, into=theme_id, actor=_actor(principal)
    )
    return _detail(session, theme, 200)


@router.post("/{theme_id}/split", status_code=201)
def split_theme(
    theme_id: str, data: SplitIn, session: SessionDep, principal: FeedbackWriter
) -> ThemeDetail:
    """Move some records into a new theme; 201 with the new theme."""
    new = themes_service.split(
        session,
        theme_id=theme_id,
        feedback_ids=data.feedback_ids,
        title=data.title,
        actor=_actor(principal),
    )
    return _detail(session, new, 200)


@router.post("/{theme_id}/rename")
def rename_theme(
    theme_id: str, data: RenameIn, session: SessionDep, principal: FeedbackWriter
) -> ThemeOut:
    """Give the theme a person's title."""
    theme = themes_service.rename(
        session, theme_id=theme_id, title=data.title, actor=_actor(principal)
    )
    return _out(theme)


@router.patch("/{theme_id}")
def patch_theme(
    theme_id: str, patch: ThemePatch, session: SessionDep, principal: FeedbackWriter
) -> ThemeOut:
    """Change the title, the fix proposal and/or the status."""
    theme = themes_service.get(session, theme_id=theme_id)
    if patch.title is not None:
        actor = _actor(principal)
        themes_service.rename(session, theme_id=theme_id, title=patch.title, actor=actor)
    if patch.fix is not None:
        themes_service.set_fix(
            session,
            theme_id=theme_id,
            fix_type=patch.fix.type,
            owner=patch.fix.owner,
            text=patch.fix.text,
        )
    if patch.status is not None:
        reason = patch.status_reason or f"set by {_actor(principal)}"
        themes_service.set_status(session, theme_id=theme_id, status=patch.status, reason=reason)
    return _out(theme)


@router.post("/{theme_id}/members")
def move_member(
    theme_id: str, data: MoveIn, session: SessionDep, principal: FeedbackWriter
) -> ThemeDetail:
    """Put a record in this theme by hand (it stays through re-attaches and rebuilds)."""
    theme = themes_service.move(
        session, feedback_id=data.feedback_id, theme_id=theme_id, actor=_actor(principal)
    )
    return _detail(session, theme, 200)


# ---------------------------------------------------------------- pages


@pages_router.get("/themes", response_class=HTMLResponse)
def themes_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    product_area: ProductArea | None = None,
    status: ThemeStatus | None = None,
) -> HTMLResponse:
    """Top themes with impact figures and a weekly sparkline."""
    filters = themes_service.ThemeFilters(
        product_area=product_area, status=status.value if status else None, min_records=2
    )
    themes = themes_service.list_themes(session, filters=filters, limit=50)
    rows = [
        {"theme": t, "spark": sparkline(themes_service.weekly_counts(t, weeks=SPARK_WEEKS))}
        for t in themes
    ]
    context = {
        "rows": rows,
        "product_area": product_area,
        "status": status.value if status else None,
        "statuses": [s.value for s in ThemeStatus],
        "weeks": SPARK_WEEKS,
    }
    return render_page(request, "themes/list.html", context)


@pages_router.get("/themes/{theme_id}", response_class=HTMLResponse)
def theme_page(
    request: Request, theme_id: str, session: SessionDep, user: CurrentUser
) -> HTMLResponse:
    """One theme: impact, fix proposal, and its records with why each joined."""
    theme = session.get(Theme, theme_id)
    if theme is None:
        return render_error(request, status=404, title="No such theme", message=theme_id)
    context = {
        "theme": theme,
        "fix": themes_service.suggest_fix(theme),
        "spark": sparkline(
            themes_service.weekly_counts(theme, weeks=SPARK_WEEKS), width=240, height=48
        ),
        "members": themes_service.members(session, theme_id=theme.id, limit=500),
        "weeks": SPARK_WEEKS,
        "week_start": (utcnow() - timedelta(weeks=SPARK_WEEKS)).date(),
    }
    return render_page(request, "themes/detail.html", context)


def sparkline(counts: list[int], *, width: int = 120, height: int = 28) -> Markup:
    """An inline SVG polyline of weekly counts, oldest first (no JavaScript, no inline styles)."""
    top = max(counts, default=0) or 1
    step = width / max(len(counts) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}" for i, c in enumerate(counts)
    )
    label = f"Records per week, oldest first: {', '.join(str(c) for c in counts)}"
    return Markup(
        '<svg class="sparkline" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'aria-label="{label}"><title>{label}</title><polyline points="{points}" fill="none" '
        'stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" '
        'stroke-linecap="round"/></svg>'
    ).format(w=width, h=height, label=label, points=points)

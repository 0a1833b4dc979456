"""Feedback API: submit, list (filters, cursor), read, correct."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import FeedbackReader, FeedbackWriter, SessionDep
from service.errors import InvalidRequest
from service.feedback import service as feedback_service
from service.feedback.schemas import FeedbackIn, FeedbackOut, FeedbackPage, FeedbackPatch
from service.structuring.taxonomy import Category, PaymentMethod, ProductArea
from service.themes import service as themes_service

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])


@router.post("", status_code=201)
def submit_feedback(data: FeedbackIn, session: SessionDep, _: FeedbackWriter) -> FeedbackOut:
    """Store feedback sent by a CS agent or a form; 201 with the structured record."""
    record = feedback_service.submit(session, data=data)
    session.flush()
    themes_service.attach(session, record=record)
    return FeedbackOut.model_validate(record)


@router.get("")
def list_feedback(
    session: SessionDep,
    _: FeedbackReader,
    source: Annotated[str | None, Query(max_length=20)] = None,
    product_area: ProductArea | None = None,
    payment_method: PaymentMethod | None = None,
    category: Category | None = None,
    theme_id: Annotated[str | None, Query(max_length=40)] = None,
    merchant_id: Annotated[str | None, Query(max_length=120)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> FeedbackPage:
    """Records oldest first; follow `next_cursor` for the next page."""
    filters = feedback_service.FeedbackFilters(
        source=source,
        product_area=product_area,
        payment_method=payment_method,
        category=category,
        theme_id=theme_id,
        merchant_id=merchant_id,
        since=since,
        until=until,
    )
    rows, next_cursor = feedback_service.list_page(
        session, filters=filters, limit=limit, cursor=cursor
    )
    return FeedbackPage(
        items=[FeedbackOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{feedback_id}")
def get_feedback(feedback_id: str, session: SessionDep, _: FeedbackReader) -> FeedbackOut:
    """One record."""
    return FeedbackOut.model_validate(feedback_service.get(session, feedback_id=feedback_id))


@router.patch("/{feedback_id}")
def correct_feedback(
    feedback_id: str, patch: FeedbackPatch, session: SessionDep, _: FeedbackWriter
) -> FeedbackOut:
    """Correct labels; corrections are kept and feed the next training."""
    if patch.theme_id is not None:
        try:
            themes_service.require_open(session, theme_id=patch.theme_id)
        except (themes_service.ThemeNotFound, themes_service.ThemeMerged) as exc:
            raise InvalidRequest(exc.message, details={"field": "theme_id"}) from exc
    record = feedback_service.correct(session, feedback_id=feedback_id, patch=patch)
    session.flush()
    # A theme_id given by a person is a move; the themes service pins it there.
    themes_service.attach(session, record=record)
    return FeedbackOut.model_validate(record)

"""Records with awkward text and lists, stored as the feedback pipeline leaves them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from service.auth import tokens
from service.db import Database, new_id
from service.feedback.models import Feedback, Merchant

_numbers = itertools.count(1)
BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

AWKWARD = [
    ('Refund stuck, "processing" for days', 'Line one, with a comma\nline two "quoted"\r\nend'),
    ("GCash ₱1,250.00 — bayad na po", "Ñandú café; naïve — 日本語 and emoji 🎉"),
    ("Plain subject", "plain text"),
    ('Starts with a quote " and ends with one"', ",leading comma and trailing,"),
]


def add_feedback(
    session: Session,
    *,
    subject: str = "Webhook signature mismatch",
    text: str = "Signature never matches",
    source: str = "zendesk",
    area: str = "webhooks",
    method: str | None = "card",
    category: str = "bug",
    merchant: str | None = "m_1",
    tags: list[str] | None = None,
    codes: list[str] | None = None,
    statuses: list[int] | None = None,
    theme_id: str | None = None,
    created: datetime | None = None,
    updated: datetime | None = None,
) -> Feedback:
    """One structured record; every list and nullable field can be set."""
    number = next(_numbers)
    if merchant is not None and session.get(Merchant, merchant) is None:
        session.add(Merchant(id=merchant, name=f'Store "{merchant}", Inc.', segment="smb"))
        session.flush()
    created = created or BASE + timedelta(minutes=number)
    record = Feedback(
        id=new_id("fb"),
        source=source,
        external_id=f"{source}:{number}",
        external_url=None if number % 2 else f"https://example.zendesk.com/tickets/{number}",
        merchant_id=merchant,
        merchant_name=f'Store "{merchant}", Inc.' if merchant else None,
        merchant_segment="smb" if merchant else None,
        subject=subject,
        description=text,
        text=text,
        comments=[],
        tags=tags if tags is not None else [],
        product_area=area,
        payment_method=method,
        category=category,
        severity="high",
        error_codes=codes if codes is not None else [],
        http_statuses=statuses if statuses is not None else [],
        event_types=[],
        resource_ids=[],
        environment="live",
        confidence={"category": 0.8333333333333334, "product_area": 1.0},
        labelled_by="model-test",
        corrected={},
        environment_hints=[],
        theme_id=theme_id,
        jira_keys=["PAY-12"] if number % 3 == 0 else [],
        status="open",
        priority=None,
        created_at=created,
        updated_at=updated or created,
        source_created_at=created,
        source_updated_at=None,
        field_versions={},
        source_version="",
    )
    session.add(record)
    session.flush()
    return record


@pytest.fixture
def awkward(db: Database) -> list[str]:
    """Records whose text needs every kind of CSV quoting, with non-empty lists."""
    with db.session() as session:
        ids = []
        for i, (subject, text) in enumerate(AWKWARD):
            record = add_feedback(
                session,
                subject=subject,
                text=text,
                tags=["vip", "a,b", 'say "hi"', "ñ"] if i % 2 == 0 else [],
                codes=["resource_failed_state", "E401"] if i < 2 else [],
                statuses=[401, 422] if i == 0 else [],
                merchant=None if i == 3 else f"m_{i}",
                method=None if i == 2 else "gcash",
            )
            ids.append(record.id)
    return ids


def token_headers(db: Database, *scopes: str) -> dict[str, str]:
    with db.session() as session:
        _, clear = tokens.create_token(session, name="export-test", scopes=list(scopes))
    return {"Authorization": f"Bearer {clear}"}

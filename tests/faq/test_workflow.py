"""Review workflow: versions with diffs, approval before publication, roles, staleness."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.config import Settings
from service.content.library import library
from service.db import Database, utcnow
from service.faq import service as faq_service
from service.faq.models import FaqVersion
from service.themes import service as themes_service
from tests.faq.conftest import entry_of, theme_of


def _patch(
    client: TestClient, headers: dict[str, str], faq_id: str, **changes: str
) -> dict[str, Any]:
    current = client.get(f"/api/v1/faqs/{faq_id}", headers=headers).json()
    body = {"question": current["question"], "body": current["body"], **changes}
    response = client.patch(f"/api/v1/faqs/{faq_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_every_edit_is_a_version_with_author_time_and_diff(
    client: TestClient, admin_headers: dict[str, str], generated: list[str]
) -> None:
    faq_id = generated[0]
    before = client.get(f"/api/v1/faqs/{faq_id}", headers=admin_headers).json()
    body = before["body"].replace("## Cause\n\n", "## Cause\n\nYour key belongs to one mode.\n\n")
    edited = _patch(client, admin_headers, faq_id, body=body)
    assert (edited["current_version"], edited["status"]) == (2, "draft")
    # The same text again is no new version.
    assert _patch(client, admin_headers, faq_id, body=body)["current_version"] == 2

    versions = client.get(f"/api/v1/faqs/{faq_id}/versions", headers=admin_headers).json()["items"]
    assert [v["number"] for v in versions] == [2, 1]
    newest, first = versions
    assert newest["kind"] == "edited" and newest["author"].startswith("token:")
    assert "+Your key belongs to one mode." in newest["diff"]
    assert newest["diff"].startswith("--- v1\n+++ v2\n")
    assert first["author"] == faq_service.GENERATOR and first["change_note"].startswith("First")
    assert newest["created_at"] >= first["created_at"]


def test_nothing_is_published_without_approval(
    db: Database,
    client: TestClient,
    admin_headers: dict[str, str],
    settings: Settings,
    generated: list[str],
) -> None:
    faq_id = generated[0]
    refused = client.post(f"/api/v1/faqs/{faq_id}/publish", headers=admin_headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "faq_state_conflict"
    with db.read_session() as session:
        assert faq_service.published_faqs(session) == []

    stale_view = client.post(
        f"/api/v1/faqs/{faq_id}/approve", json={"version": 7}, headers=admin_headers
    )
    assert stale_view.status_code == 409  # approving a text the reviewer did not see
    approved = client.post(
        f"/api/v1/faqs/{faq_id}/approve", json={"version": 1}, headers=admin_headers
    )
    assert approved.json()["status"] == "approved" and approved.json()["reviewed_at"]
    # An edit after approval needs a new approval before it can be published.
    _patch(client, admin_headers, faq_id, question="Why do you get HTTP 401 with a valid key?")
    assert client.post(f"/api/v1/faqs/{faq_id}/publish", headers=admin_headers).status_code == 409

    client.post(f"/api/v1/faqs/{faq_id}/approve", headers=admin_headers)
    published = client.post(f"/api/v1/faqs/{faq_id}/publish", headers=admin_headers).json()
    assert (published["status"], published["published_version"]) == ("published", 2)
    with db.read_session() as session:
        (faq,) = faq_service.published_faqs(session)
        assert faq.question == "Why do you get HTTP 401 with a valid key?" and faq.version == 2
        assert "## Resolution" not in faq.resolution and faq.resolution
        assert faq_service.known_fix_text(session, theme_id=str(faq.theme_id)) == faq.resolution

    # Editing a published entry keeps the published version for readers until the next one.
    _patch(client, admin_headers, faq_id, question="A new question?")
    with db.read_session() as session:
        assert [f.version for f in faq_service.published_faqs(session)] == [2]


def test_only_cs_and_admin_approve_or_publish(
    db: Database, settings: Settings, generated: list[str]
) -> None:
    faq_id = generated[0]
    with db.session() as session:
        for role in ("product", "commercial", None):
            with pytest.raises(faq_service.FaqReviewForbidden):
                faq_service.approve(session, faq_id=faq_id, actor="user:x", role=role)
        with pytest.raises(faq_service.FaqReviewForbidden):
            faq_service.edit(
                session, faq_id=faq_id, question="Q?", body="b", actor="u", role="commercial"
            )
        faq_service.approve(session, faq_id=faq_id, actor="user:cs", role="cs")
        with pytest.raises(faq_service.FaqReviewForbidden):
            faq_service.publish(
                session, faq_id=faq_id, actor="user:p", role="product", settings=settings
            )
        assert (
            faq_service.publish(
                session, faq_id=faq_id, actor="user:cs", role="cs", settings=settings
            ).published_version
            == 1
        )


def _published(db: Database, settings: Settings, faq_id: str) -> None:
    with db.session() as session:
        faq_service.approve(session, faq_id=faq_id, actor="user:cs", role="cs")
        faq_service.publish(session, faq_id=faq_id, actor="user:cs", role="cs", settings=settings)


def test_a_jira_fix_makes_the_entry_stale_and_the_new_draft_says_what_changed(
    db: Database, settings: Settings, generated: list[str]
) -> None:
    faq_id = generated[0]
    theme_id = theme_of(db, faq_id)
    with db.session() as session:
        live = themes_service.get(session, theme_id=theme_id)
        live.jira_keys = ["PAY-101"]
        themes_service.set_status(session, theme_id=theme_id, status="escalated", reason="Jira")
        faq_service.generate(session, settings=settings)
    limitation = _current(db, faq_id)
    assert "## Known limitation" in limitation.body and "PAY-101" in limitation.body
    _published(db, settings, faq_id)

    with db.session() as session:
        themes_service.set_status(session, theme_id=theme_id, status="fixed", reason="Jira done")
        faq_service.on_theme_status_changed(
            session, theme_id=theme_id, status="fixed", fix_version="2026.12.1"
        )
    entry = entry_of(db, faq_id)
    assert entry.status == "stale" and "fixed in 2026.12.1" in str(entry.stale_reason)
    with db.read_session() as session:
        assert faq_service.published_faqs(session) == []  # withheld until re-reviewed
        assert faq_service.known_fix_text(session, theme_id=theme_id) is None

    with db.session() as session:
        report = faq_service.generate(session, settings=settings)
    assert report.updated == [faq_id]
    redraft = _current(db, faq_id)
    assert "## Known limitation" not in redraft.body
    assert "fixed this in release 2026.12.1" in redraft.body
    note = str(redraft.change_note)
    assert "was stale: the theme's Jira issue was fixed in 2026.12.1" in note
    assert "Jira fix shipped in 2026.12.1" in note and "escalated → fixed" in note
    assert "-## Known limitation" in redraft.diff
    assert entry_of(db, faq_id).status == "draft"


def _current(db: Database, faq_id: str) -> FaqVersion:
    with db.session() as session:  # committed, not rolled back: attributes stay loaded
        return faq_service.version(session, faq_id=faq_id)


def test_changed_sources_and_old_reviews_make_entries_stale(
    db: Database, settings: Settings, generated: list[str]
) -> None:
    faq_id = generated[0]
    _published(db, settings, faq_id)
    used = _current(db, faq_id).sources["library"]
    assert used and all(library().versions()[doc] == ver for doc, ver in used.items())
    with db.session() as session:
        assert faq_service.check_staleness(session, settings=settings) == []

    changed_doc = sorted(used)[0]
    shipped = library()
    edited = dataclasses.replace(shipped.documents[changed_doc], version="0123456789ab")
    changed = dataclasses.replace(shipped, documents={**shipped.documents, changed_doc: edited})
    with db.session() as session:
        marked = faq_service.check_staleness(session, settings=settings, content=changed)
    assert marked == [faq_id]
    assert (
        entry_of(db, faq_id).stale_reason == f"content sources changed since review: {changed_doc}"
    )

    _published(db, settings, faq_id)  # re-reviewed: true to the product again
    later = utcnow() + timedelta(days=settings.faq_review_max_age_days + 1)
    with db.session() as session:
        assert faq_service.check_staleness(session, settings=settings, now=later) == [faq_id]
    assert "more than 180 days ago" in str(entry_of(db, faq_id).stale_reason)


def test_regeneration_is_idempotent(db: Database, settings: Settings, generated: list[str]) -> None:
    with db.session() as session:
        report = faq_service.generate(session, settings=settings)
        count = len(list(session.scalars(select(FaqVersion))))
    assert report.created == report.updated == [] and sorted(report.unchanged) == sorted(generated)
    assert count == len(generated)

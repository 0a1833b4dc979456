"""Versions, out-of-date detection, the worker's render path, the pool's limits, the schema."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.auth.models import User
from service.briefs import tasks
from service.briefs.models import Brief
from service.briefs.pool import PoolLimits, RenderJob, RenderPool
from service.config import Settings
from service.db import Database
from service.inbox.models import InboxEvent
from service.models import Base
from service.outbound import service as outbound
from service.outbound.service import DELIVER_TASK
from service.render.pdf import PdfMetadata
from service.worker.context import running_with
from tests.briefs.conftest import FIXTURE_LIBRARY, brief_request, csrf_from, sign_in

BRIEFS = "/api/v1/briefs"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    copy = tmp_path / "library"
    shutil.copytree(FIXTURE_LIBRARY, copy)
    return copy


@pytest.fixture
def settings(settings: Settings, library: Path) -> Settings:
    return settings.model_copy(update={"brief_library_dir": library})


def test_changed_content_marks_the_brief_out_of_date_and_regenerate_makes_v2(
    client: TestClient,
    make_user: Callable[..., User],
    run_worker: Callable[[], int],
    library: Path,
    db: Database,
) -> None:
    make_user()
    sign_in(client)
    token = csrf_from(client.get("/briefs/new"))
    form = {**brief_request(), "csrf_token": token}
    location = client.post("/briefs", data=form, follow_redirects=False).headers["location"]
    run_worker()
    assert "Out of date" not in client.get(location).text

    sheet = library / "payment-methods" / "pm-gcash.md"
    sheet.write_text(sheet.read_text().replace("in full or in part", "in full only"))
    page = client.get(location)
    assert 'id="out-of-date"' in page.text

    token = csrf_from(page)
    client.post(f"{location}/regenerate", data={"csrf_token": token})
    run_worker()
    page = client.get(location)
    assert 'id="out-of-date"' not in page.text and "in full only" in page.text
    with db.read_session() as session:
        brief = session.scalars(select(Brief)).one()
        assert brief.version == 2 and brief.status == "ready"
        keys = set(session.scalars(select(InboxEvent.delivery_key)))
    brief_id = location.rsplit("/", 1)[1]
    assert {f"briefs.render:{brief_id}:v1", f"briefs.render:{brief_id}:v2"} <= keys


def test_an_identical_api_request_regenerates_an_out_of_date_brief(
    client: TestClient,
    admin_headers: dict[str, str],
    run_worker: Callable[[], int],
    library: Path,
) -> None:
    first = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()
    run_worker()
    checklist = library / "go-live-checklist.md"
    checklist.write_text(checklist.read_text() + "- [ ] Tell Commercial the go-live date.\n")
    stale = client.get(f"{BRIEFS}/{first['id']}", headers=admin_headers).json()
    assert stale["out_of_date"] is True
    again = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()
    assert again == {"id": first["id"], "status": "queued"}
    run_worker()
    fresh = client.get(f"{BRIEFS}/{first['id']}", headers=admin_headers).json()
    assert fresh["version"] == 2 and fresh["status"] == "ready" and not fresh["out_of_date"]


def test_the_preparer_renders_outside_the_handler_and_brief_ready_is_emitted(
    app: object,
    client: TestClient,
    admin_headers: dict[str, str],
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with db.session() as session:  # through the service, which keeps its cache right
        outbound.create(
            session,
            url="http://127.0.0.1:9/relay",
            event_types=["brief.ready"],
            description="test",
            actor="test",
            allow_private=True,
        )
    brief_ids = [
        client.post(
            BRIEFS, json=brief_request(merchant_name=f"M{i}"), headers=admin_headers
        ).json()["id"]
        for i in range(2)
    ]
    with db.read_session() as session, running_with(settings):
        events = list(session.scalars(select(InboxEvent).where(InboxEvent.task == "briefs.render")))
        tasks.prepare_renders(session, events)  # both rendered here, in parallel
    rendered_in_handler: list[str] = []
    monkeypatch.setattr(tasks, "render_briefs", lambda *a, **k: rendered_in_handler.append("x"))
    with db.session() as session, running_with(settings):
        for event in session.scalars(select(InboxEvent).where(InboxEvent.task == "briefs.render")):
            assert tasks.render_brief(session, event).endswith("ready")
    assert rendered_in_handler == []
    for brief_id in brief_ids:
        assert client.get(f"{BRIEFS}/{brief_id}", headers=admin_headers).json()["status"] == "ready"
    with db.read_session() as session:
        deliveries = session.scalars(select(InboxEvent).where(InboxEvent.task == DELIVER_TASK))
        payloads = [event.payload for event in deliveries]
    assert len(payloads) == 2 and all("brief.ready" in p for p in payloads)


def test_status_is_rendering_while_a_worker_holds_the_job(
    client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    brief_id = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()["id"]
    with db.session() as session:
        job = session.scalars(select(InboxEvent).where(InboxEvent.task == "briefs.render")).one()
        job.status = "processing"
    assert client.get(f"{BRIEFS}/{brief_id}", headers=admin_headers).json()["status"] == "rendering"


METADATA = PdfMetadata(title="t", author="a")


def test_pool_kills_a_render_that_overruns_and_recovers() -> None:
    pool = RenderPool(PoolLimits(processes=1, memory_mb=2048, timeout_seconds=0.5))
    try:
        endless = "<p>x</p>" * 60_000  # far more than half a second of layout
        (slow,) = pool.render([RenderJob(endless, METADATA)])
        assert slow.pdf is None and slow.error == "rendering took over 0.5 s"
        assert not slow.transient
        pool.limits = PoolLimits(processes=1, memory_mb=2048, timeout_seconds=60)
        (ok,) = pool.render([RenderJob("<p>fine</p>", METADATA)])
        assert ok.pdf is not None and ok.pdf.data.startswith(b"%PDF") and ok.pdf.pages == 1
    finally:
        pool.close()


def test_pool_memory_limit_fails_the_render_not_the_worker() -> None:
    pool = RenderPool(PoolLimits(processes=1, memory_mb=160, timeout_seconds=120))
    try:
        (result,) = pool.render([RenderJob("<p>" + "word " * 40_000 + "</p>", METADATA)])
        assert result.pdf is None and result.error is not None and not result.transient
        # A MemoryError in the child, or the child killed outright by a failed allocation.
        assert "over 160 MB" in result.error or "process died" in result.error
        pool.limits = PoolLimits(processes=1, memory_mb=2048, timeout_seconds=60)
        (ok,) = pool.render([RenderJob("<p>fine</p>", METADATA)])
        assert ok.pdf is not None  # the pool carries on with a fresh child
    finally:
        pool.close()


def test_briefs_table_matches_the_migration(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "briefs" in repr(d)] == []

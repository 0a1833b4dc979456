"""The body is produced chunk by chunk (never whole), and a client going away is audited."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from service.db import Database
from service.exports import service as exports
from service.exports.models import ExportAudit
from service.exports.schemas import ExportFormat
from service.models import Base
from tests.exports.conftest import add_feedback


def _request(fmt: ExportFormat = ExportFormat.NDJSON) -> exports.ExportRequest:
    return exports.ExportRequest(
        resource="feedback", fmt=fmt, bom=False, actor="test", channel="cli"
    )


def _seed(db: Database, count: int) -> None:
    with db.session() as session:
        for _ in range(count):
            add_feedback(session)


def _audit(db: Database, audit_id: str) -> tuple[str, int | None]:
    with db.session() as session:
        audit = session.scalars(select(ExportAudit).where(ExportAudit.id == audit_id)).one()
        return audit.status, audit.rows


def test_rows_leave_in_many_chunks_not_one_body(db: Database) -> None:
    _seed(db, 50)
    prepared = exports.prepare(db, _request(), chunk_rows=7)
    assert prepared.body is not None
    assert _audit(db, prepared.audit_id) == ("streaming", None)
    chunks = list(prepared.body)
    # A framing chunk, then one per batch of 7 rows: the body is never built whole.
    assert len(chunks) == 1 + 8
    assert max(chunk.count(b"\n") for chunk in chunks) == 7
    records = [json.loads(line) for line in b"".join(chunks).splitlines()]
    assert len(records) == 50 and len({r["id"] for r in records}) == 50
    assert _audit(db, prepared.audit_id) == ("completed", 50)


def test_a_client_going_away_closes_the_session_and_is_audited(db: Database) -> None:
    _seed(db, 30)
    prepared = exports.prepare(db, _request(ExportFormat.CSV), chunk_rows=10)
    assert prepared.body is not None
    next(prepared.body)  # header
    next(prepared.body)  # first 10 rows
    prepared.body.close()  # what the route does when the client disconnects
    assert _audit(db, prepared.audit_id) == ("aborted", 10)
    # The read session is gone: a writer gets the database at once.
    with db.session() as session:
        add_feedback(session)


def test_export_tables_match_the_migration(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    ours = [d for d in diffs if "export_audits" in repr(d) or "'digests'" in repr(d)]
    assert ours == []

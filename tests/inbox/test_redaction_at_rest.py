"""Card numbers and secrets never reach the database file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db import Database
from service.feedback.models import Feedback
from tests.conftest import WEBHOOK_SECRETS
from tests.signing import signed, zendesk_event

PAN = "4343434343434345"
SECRET = "sk_live_8fJ2kL9mN3pQ7rS1tU5vW0xY"


def sqlite_files(database: Database) -> list[Path]:
    path = Path(str(database.engine.url.database))
    return [p for p in (path, Path(f"{path}-wal")) if p.exists()]


def test_pan_and_secret_never_reach_the_database(
    client: TestClient, db: Database, run_worker: Callable[[], int]
) -> None:
    description = (
        f"Card {PAN[:4]} {PAN[4:8]} {PAN[8:12]} {PAN[12:]} cvc: 123 declined. "
        f"Also {PAN} and our key {SECRET}."
    )
    body = zendesk_event(
        "created",
        ticket_id=1,
        event_id="pan-1",
        time="2026-11-02T01:00:00Z",
        description=description,
    )
    assert PAN.encode() in body
    response = client.post(
        "/webhooks/zendesk",
        content=body,
        headers=signed("zendesk", body, WEBHOOK_SECRETS["zendesk"]),
    )
    assert response.status_code == 202
    run_worker()
    with db.session() as session:
        record = session.scalars(select(Feedback)).one()
        assert "[REDACTED:PAN]" in record.text and "[REDACTED:SECRET]" in record.text
        assert record.environment == "live"  # derived before the key was removed
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the byte-level check reads the SQLite file")
    db.dispose()
    for path in sqlite_files(db):
        raw = path.read_bytes()
        for needle in (PAN, f"{PAN[:4]} {PAN[4:8]} {PAN[8:12]} {PAN[12:]}", SECRET):
            assert needle.encode() not in raw, f"{needle} found in {path.name}"

"""The escalation preview for the top theme of the dev corpus (written for the lead's note)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service import demo
from service.config import Settings
from service.db import Database

PREVIEW_FILE = Path("/tmp/escalation-preview.txt")


def test_top_theme_of_the_dev_corpus_previews_as_a_readable_package(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    demo.load(db, settings)
    [top] = client.get("/api/v1/themes?limit=1", headers=admin_headers).json()["items"]
    answer = client.get(f"/api/v1/themes/{top['id']}/escalation-preview", headers=admin_headers)
    assert answer.status_code == 200
    text = answer.text
    PREVIEW_FILE.write_text(text, encoding="utf-8")
    assert text.startswith("h2. Problem\n") and "h2. Impact" in text
    assert f"||Distinct merchants|{top['merchant_count']}|" in text
    assert text.count("\n* ") >= min(top["record_count"], 3)  # example cases and ticket links

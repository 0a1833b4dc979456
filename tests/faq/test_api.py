"""The FAQ API and Markdown export: list, filters, one entry, versions, bundles, generation."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import yaml
from fastapi.testclient import TestClient

from service.config import Settings
from service.db import Database
from service.faq import service as faq_service
from tests.faq.conftest import SMALL_THEMES, corpus, load_tickets


def test_generate_runs_in_the_worker_and_entries_are_listed_and_filtered(
    db: Database,
    settings: Settings,
    client: TestClient,
    admin_headers: dict[str, str],
    run_worker: Callable[[], int],
) -> None:
    load_tickets(db, settings, corpus(SMALL_THEMES))
    queued = client.post("/api/v1/faqs/generate", headers=admin_headers)
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    assert client.get("/api/v1/faqs", headers=admin_headers).json()["items"] == []
    assert run_worker() >= 1

    items = client.get("/api/v1/faqs", headers=admin_headers).json()["items"]
    assert items and all(i["status"] == "draft" and i["current_version"] == 1 for i in items)
    area = items[0]["product_area"]
    by_area = client.get(f"/api/v1/faqs?product_area={area}", headers=admin_headers).json()
    assert {i["product_area"] for i in by_area["items"]} == {area}
    assert client.get("/api/v1/faqs?status=published", headers=admin_headers).json() == {
        "items": []
    }
    bad = client.get("/api/v1/faqs?status=gone", headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "query.status"
    assert client.get("/api/v1/faqs").status_code == 401

    one = client.get(f"/api/v1/faqs/{items[0]['id']}", headers=admin_headers).json()
    assert one["body"].startswith("## Symptoms") and one["markdown"].startswith("---\n")
    missing = client.get("/api/v1/faqs/faq_nope", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "faq_not_found"


def test_markdown_export_per_entry_and_as_bundles(
    client: TestClient, admin_headers: dict[str, str], generated: list[str]
) -> None:
    faq_id = generated[0]
    page = client.get(f"/api/v1/faqs/{faq_id}.md", headers=admin_headers)
    assert page.headers["content-type"].startswith("text/markdown")
    same = client.get(f"/api/v1/faqs/{faq_id}?format=markdown", headers=admin_headers)
    assert same.text == page.text
    front, body = page.text.removeprefix("---\n").split("\n---\n", 1)
    meta = yaml.safe_load(front)
    assert meta["id"] == faq_service.document_id(faq_id) and meta["kind"] == "faq"
    assert meta["status"] == "draft" and meta["version"] == 1 and meta["applies_to"]
    for section in ("## Symptoms", "## Cause", "## Resolution", "## Related"):
        assert section in body
    assert (
        client.get(f"/api/v1/faqs/{faq_id}.md?version=9", headers=admin_headers).status_code == 404
    )

    bundle = client.get("/api/v1/faqs?format=zip", headers=admin_headers)
    assert bundle.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert names == sorted(f"{faq_service.document_id(i)}.md" for i in generated)
    text = client.get("/api/v1/faqs?format=markdown", headers=admin_headers).text
    assert text.count("\nkind: faq\n") == len(generated) and page.text in text

"""POST /api/v1/classify: the worker's structuring, on demand, storing nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db import Database
from service.feedback.models import Feedback
from service.inbox.models import InboxEvent
from service.structuring.taxonomy import CATEGORIES, PRODUCT_AREAS, SEVERITIES

BODY = (
    'Live checkout broke. Response: {"errors": [{"code": "resource_failed_state", '
    '"detail": "..."}]} with HTTP 400 on pi_9Hk2mXq4LpT7rW1sZ8vB3nC5.\n'
    "Card 4111-1111-1111-1111 cvv 123, key sk_live_4eC39HqLyjWDarjtT1zdp7dc"
)


def test_classify_extracts_redacts_and_stores_nothing(
    client: TestClient, db: Database, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/classify",
        json={"subject": "Checkout failing", "body": BODY},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["error_codes"] == ["resource_failed_state"]
    assert result["http_statuses"] == [400]
    assert result["resource_ids"] == ["pi_9Hk2mXq4LpT7rW1sZ8vB3nC5"]
    assert result["environment"] == "live"
    assert result["product_area"] in PRODUCT_AREAS and result["category"] in CATEGORIES
    assert result["severity"] in SEVERITIES
    for secret in ("4111-1111-1111-1111", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "cvv 123"):
        assert secret not in result["redacted_body"]
    assert "[REDACTED:PAN]" in result["redacted_body"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0


def test_classify_needs_a_token_and_a_body(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert client.post("/api/v1/classify", json={"subject": "s", "body": "b"}).status_code == 401
    missing = client.post("/api/v1/classify", json={"subject": "s"}, headers=admin_headers)
    assert missing.status_code == 422 and missing.json()["error"]["details"][0]["field"] == "body"

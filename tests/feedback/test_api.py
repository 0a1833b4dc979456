"""The feedback API: submit, list with filters and cursors, read, correct, auth."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.auth import tokens
from service.db import Database


def submit(client: TestClient, headers: dict[str, str], **overrides: object) -> dict[str, object]:
    body = {
        "subject": "Refund failed for GCash payment",
        "body": (
            "Refund on pay_9Hk2mXq4LpT7rW1sZ8vB3nC5 returns 400 parameter_invalid in live mode."
        ),
        "merchant": {
            "id": "m_1",
            "name": "Sari Store",
            "segment": "smb",
            "monthly_tpv_php": 1_500_000,
        },
        **overrides,
    }
    response = client.post("/api/v1/feedback", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def token_with(db: Database, *scopes: str) -> dict[str, str]:
    with db.session() as session:
        _, clear = tokens.create_token(session, name="t", scopes=list(scopes))
    return {"Authorization": f"Bearer {clear}"}


def test_submit_returns_the_structured_record(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    record = submit(client, admin_headers)
    assert record["source"] == "api"
    assert str(record["external_id"]).startswith("api:")
    assert record["merchant_id"] == "m_1" and record["merchant_name"] == "Sari Store"
    assert record["merchant_segment"] == "smb"
    assert "pay_9Hk2mXq4LpT7rW1sZ8vB3nC5" in record["resource_ids"]  # type: ignore[operator]
    assert record["http_statuses"] == [400]
    assert record["environment"] == "live"
    fetched = client.get(f"/api/v1/feedback/{record['id']}", headers=admin_headers).json()
    assert fetched == record


def test_submit_redacts_before_storing(client: TestClient, admin_headers: dict[str, str]) -> None:
    record = submit(
        client, admin_headers, body="Card 4111 1111 1111 1111 key sk_test_abcdefghijklmnop123"
    )
    assert "4111" not in str(record["text"]) and "sk_test_" not in str(record["text"])
    assert record["environment"] == "test"


def test_same_external_id_updates_the_same_record(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    first = submit(client, admin_headers, external_id="form-1")
    second = submit(client, admin_headers, external_id="form-1", subject="Updated subject")
    assert first["id"] == second["id"] and second["subject"] == "Updated subject"


def test_validation_error_names_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/feedback", json={"subject": "x"}, headers=admin_headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "body" in error["message"]
    assert any(d["field"] == "body" for d in error["details"])


def test_list_filters_and_cursor_pagination(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    ids = [submit(client, admin_headers, external_id=f"p-{i}")["id"] for i in range(5)]
    submit(client, admin_headers, external_id="other", merchant={"id": "m_2"})
    seen: list[object] = []
    cursor = None
    while True:
        params: dict[str, object] = {"merchant_id": "m_1", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/feedback", params=params, headers=admin_headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_bad_filter_value_is_422(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/feedback?product_area=nope", headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "query.product_area"
    assert client.get("/api/v1/feedback?cursor=zzz", headers=admin_headers).status_code == 422


def test_correction_sticks_through_restructuring(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    record = submit(client, admin_headers, external_id="c-1")
    patched = client.patch(
        f"/api/v1/feedback/{record['id']}",
        headers=admin_headers,
        json={"product_area": "refunds", "category": "bug"},
    )
    assert patched.status_code == 200
    assert patched.json()["product_area"] == "refunds"
    again = submit(client, admin_headers, external_id="c-1", body="new text about cards")
    assert again["product_area"] == "refunds" and again["category"] == "bug"
    assert again["corrected"] == {"product_area": "refunds", "category": "bug"}


def test_unknown_record_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/feedback/fb_missing", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "feedback_not_found"


def test_scopes_are_enforced(client: TestClient, db: Database) -> None:
    assert client.get("/api/v1/feedback").status_code == 401
    reader = token_with(db, "feedback:read")
    assert client.get("/api/v1/feedback", headers=reader).status_code == 200
    denied = client.post("/api/v1/feedback", json={"subject": "s", "body": "b"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "scope_missing"
    bogus = {"Authorization": "Bearer rly_not_a_token"}
    assert client.get("/api/v1/feedback", headers=bogus).status_code == 401


def test_moving_to_an_unknown_theme_names_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    record = submit(client, admin_headers, external_id="t-1")
    response = client.patch(
        f"/api/v1/feedback/{record['id']}", json={"theme_id": "th_missing"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"field": "theme_id"}
    unchanged = client.get(f"/api/v1/feedback/{record['id']}", headers=admin_headers).json()
    assert unchanged["theme_id"] == record["theme_id"]

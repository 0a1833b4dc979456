"""Themes API and pages: ranked list, explained members, people's decisions, scopes."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.auth import tokens, users
from service.db import Database
from service.themes import routes
from service.themes import service as themes
from tests.themes.test_clustering import QR_EXPIRY, SIGNATURE, SIGNATURE_AGAIN, add_record

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """The app with the themes routers, for as long as create_app does not include them."""
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/api/v1/themes" not in paths:
        app.include_router(routes.router)
    if "/themes" not in paths:
        app.include_router(routes.pages_router)
    return app


@pytest.fixture
def seeded(db: Database) -> dict[str, str]:
    """Two themes: webhook signatures (2 merchants, big TPV) and QR expiry (1 merchant)."""
    with db.session() as session:
        ids = {}
        for name, text, merchant, tpv in [
            ("sig1", SIGNATURE, "m_1", 300_000_000),
            ("sig2", SIGNATURE_AGAIN, "m_2", 50_000_000),
            ("qr1", QR_EXPIRY, "m_3", 1_000_000),
            ("qr2", QR_EXPIRY, "m_3", 1_000_000),
        ]:
            area = "qrph" if name.startswith("qr") else "webhooks"
            record = add_record(session, text, merchant=merchant, tpv=tpv, area=area)
            theme = themes.attach(session, record=record)
            assert theme is not None
            ids[name], ids[f"{name}_theme"] = record.id, theme.id
    return ids


def _headers(db: Database, *scopes: str) -> dict[str, str]:
    with db.session() as session:
        _, clear = tokens.create_token(session, name="test", scopes=list(scopes))
    return {"Authorization": f"Bearer {clear}"}


def test_list_is_ranked_by_impact(
    client: TestClient, admin_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    response = client.get("/api/v1/themes", headers=admin_headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["id"] for i in items] == [seeded["sig1_theme"], seeded["qr1_theme"]]
    top = items[0]
    assert (top["record_count"], top["merchant_count"]) == (2, 2)
    assert top["tpv_at_risk_php"] == 350_000_000
    assert top["rank_score"] > items[1]["rank_score"]
    assert top["fix"]["suggested_type"] == "merchant_config"
    for field in ("first_seen", "last_seen", "trend", "weekly_rate", "jira_keys", "status"):
        assert field in top
    assert top["known_key"] == "webhook-signature-mismatch"


def test_list_filters_by_product_area(
    client: TestClient, admin_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    response = client.get("/api/v1/themes?product_area=qrph", headers=admin_headers)
    assert [i["id"] for i in response.json()["items"]] == [seeded["qr1_theme"]]


def test_detail_explains_each_membership(
    client: TestClient, admin_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    response = client.get(f"/api/v1/themes/{seeded['sig1_theme']}", headers=admin_headers)
    assert response.status_code == 200
    members = {m["feedback_id"]: m for m in response.json()["members"]}
    started = members[seeded["sig1"]]["reasons"]
    assert started["started_theme"] is True
    # Recognised as a known theme of the labelled corpus: which one, and how sure.
    assert started["known_theme"] == "webhook-signature-mismatch"
    assert 0 < started["known_confidence"] <= 1
    joined = members[seeded["sig2"]]
    assert joined["reasons"]["similarity"] > 0 and joined["reasons"]["product_area_match"]
    assert joined["pinned"] is False


def test_unknown_theme_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/themes/th_nope", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "theme_not_found"


def test_scopes(client: TestClient, db: Database, seeded: dict[str, str]) -> None:
    theme = seeded["sig1_theme"]
    assert client.get("/api/v1/themes").status_code == 401
    reader = _headers(db, "feedback:read")
    assert client.get("/api/v1/themes", headers=reader).status_code == 200
    rename = client.post(f"/api/v1/themes/{theme}/rename", json={"title": "x"}, headers=reader)
    assert rename.status_code == 403
    assert client.get("/api/v1/themes", headers=_headers(db, "export:read")).status_code == 403


def test_people_change_themes_through_the_api(
    client: TestClient, admin_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    sig, qr = seeded["sig1_theme"], seeded["qr1_theme"]
    moved = client.post(
        f"/api/v1/themes/{sig}/members", json={"feedback_id": seeded["qr2"]}, headers=admin_headers
    )
    assert moved.status_code == 200
    pinned = [m for m in moved.json()["members"] if m["feedback_id"] == seeded["qr2"]]
    assert pinned[0]["pinned"] and pinned[0]["reasons"]["pinned_by"].startswith("token:")
    split = client.post(
        f"/api/v1/themes/{sig}/split",
        json={"feedback_ids": [seeded["qr2"]], "title": "QR in the wrong place"},
        headers=admin_headers,
    )
    assert split.status_code == 201 and split.json()["title"] == "QR in the wrong place"
    merged = client.post(
        f"/api/v1/themes/{qr}/merge",
        json={"theme_ids": [split.json()["id"]]},
        headers=admin_headers,
    )
    assert merged.status_code == 200 and merged.json()["record_count"] == 2


def test_patch_sets_title_fix_and_status(
    client: TestClient, admin_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    body = {
        "title": "Signature verification",
        "fix": {"type": "docs", "owner": "DX team", "text": "Show raw-body hashing"},
        "status": "fix_planned",
    }
    response = client.patch(
        f"/api/v1/themes/{seeded['sig1_theme']}", json=body, headers=admin_headers
    )
    assert response.status_code == 200
    data = response.json()
    assert (data["title"], data["renamed_by_person"], data["status"]) == (
        "Signature verification",
        True,
        "fix_planned",
    )
    assert data["fix"]["type"] == "docs" and data["fix"]["owner"] == "DX team"
    bad = client.patch(
        f"/api/v1/themes/{seeded['sig1_theme']}", json={"status": "done"}, headers=admin_headers
    )
    assert bad.status_code == 422


def _log_in(client: TestClient, db: Database) -> None:
    with db.session() as session:
        users.add_user(session, email="pia@example.ph", role="product", password=PASSWORD)
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    form = {"email": "pia@example.ph", "password": PASSWORD, "next": "/", "csrf_token": match[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_pages_need_a_signed_in_user(client: TestClient, seeded: dict[str, str]) -> None:
    response = client.get("/themes", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_pages_show_ranked_themes_with_sparklines_and_records(
    client: TestClient, db: Database, seeded: dict[str, str]
) -> None:
    _log_in(client, db)
    listing = client.get("/themes")
    assert listing.status_code == 200
    assert "<svg" in listing.text and "<script" not in listing.text
    assert f'href="/themes/{seeded["sig1_theme"]}"' in listing.text
    detail = client.get(f"/themes/{seeded['sig1_theme']}")
    assert detail.status_code == 200
    assert SIGNATURE_AGAIN[0] in detail.text and "Text similarity" in detail.text
    assert "Recognised as the known problem webhook-signature-mismatch" in detail.text
    assert client.get("/themes/th_nope").status_code == 404


def test_sparkline_scales_weekly_counts() -> None:
    spark = routes.sparkline([0, 2, 4], width=100, height=20)
    assert 'points="0.0,18.0 50.0,10.0 100.0,2.0"' in spark
    assert "oldest first: 0, 2, 4" in spark

"""API bearer tokens: 401 without a valid token, 403 without the scope, the error shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from service.auth import tokens
from service.db import Database
from service.deps import FeedbackReader

PROBE = "/api/v1/_test/feedback-reader"


@pytest.fixture
def probe_client(app: FastAPI) -> Iterator[TestClient]:
    """The app plus one route that needs the feedback:read scope."""
    router = APIRouter()

    @router.get(PROBE)
    def probe(principal: FeedbackReader) -> dict[str, str]:
        return {"principal": principal.id}

    app.include_router(router)
    with TestClient(app) as client:
        yield client


def make_token(db: Database, *scopes: str) -> tuple[str, str]:
    with db.session() as session:
        row, clear = tokens.create_token(session, name="test", scopes=list(scopes))
    return row.id, clear


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "details"}
    assert error["code"] == code and error["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic YTpi"}, bearer("rly_unknown")],
)
def test_missing_or_unknown_token_is_401_in_the_error_shape(
    probe_client: TestClient, headers: dict[str, str]
) -> None:
    answer = probe_client.get(PROBE, headers=headers)
    assert answer.status_code == 401
    assert_error(answer.json(), "not_authenticated")


def test_token_without_the_scope_is_403(probe_client: TestClient, db: Database) -> None:
    _, clear = make_token(db, "export:read", "briefs:write")
    answer = probe_client.get(PROBE, headers=bearer(clear))
    assert answer.status_code == 403
    assert_error(answer.json(), "scope_missing")
    assert answer.json()["error"]["details"] == {"scope": "feedback:read"}


def test_token_with_the_scope_or_admin_is_let_in(
    probe_client: TestClient, db: Database, admin_headers: dict[str, str]
) -> None:
    token_id, clear = make_token(db, "feedback:read")
    assert probe_client.get(PROBE, headers=bearer(clear)).json() == {"principal": token_id}
    assert probe_client.get(PROBE, headers=admin_headers).status_code == 200


def test_revoked_token_is_401(probe_client: TestClient, db: Database) -> None:
    token_id, clear = make_token(db, "feedback:read")
    assert probe_client.get(PROBE, headers=bearer(clear)).status_code == 200
    with db.session() as session:
        assert tokens.revoke(session, token_id=token_id)
    answer = probe_client.get(PROBE, headers=bearer(clear))
    assert answer.status_code == 401
    assert_error(answer.json(), "not_authenticated")


def test_a_page_session_cookie_is_not_an_api_credential(
    probe_client: TestClient,
) -> None:
    probe_client.cookies.set("relay_session", "anything")
    assert probe_client.get(PROBE).status_code == 401

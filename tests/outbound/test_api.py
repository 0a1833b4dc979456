"""Subscriptions API: admin only, the secret shown once, validation naming the field."""

from __future__ import annotations

from typing import get_args

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.auth import tokens
from service.db import Database
from service.outbound.models import Subscription
from service.outbound.schemas import EventType
from service.outbound.service import EVENT_TYPES
from tests.outbound.conftest import Subscriber, subscribe

API = "/api/v1/subscriptions"


def test_the_schema_knows_every_event_type() -> None:
    assert set(get_args(EventType)) == set(EVENT_TYPES)


def test_create_shows_the_secret_once(
    client: TestClient, admin_headers: dict[str, str], subscriber: Subscriber, db: Database
) -> None:
    created = subscribe(client, admin_headers, subscriber.url, "theme.created", "feedback.created")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["feedback.created", "theme.created"]
    assert created["active"] is True and created["created_by"].startswith("token:")
    listed = client.get(API, headers=admin_headers).json()["items"]
    one = client.get(f"{API}/{created['id']}", headers=admin_headers).json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert "secret" not in listed[0] and "secret" not in one
    with db.session() as session:  # stored so deliveries can be signed with it
        assert session.scalars(select(Subscription.secret)).one() == created["secret"]


def test_admin_scope_is_required(client: TestClient, db: Database, subscriber: Subscriber) -> None:
    with db.session() as session:
        _, clear = tokens.create_token(session, name="reader", scopes=["feedback:read"])
    reader = {"Authorization": f"Bearer {clear}"}
    assert client.get(API, headers=reader).status_code == 403
    body = {"url": subscriber.url, "event_types": ["theme.created"]}
    assert client.post(API, json=body, headers=reader).status_code == 403
    assert client.get(API).status_code == 401


def test_bad_input_names_the_field(
    client: TestClient, admin_headers: dict[str, str], subscriber: Subscriber
) -> None:
    cases = [
        ({"url": subscriber.url, "event_types": ["ticket.created"]}, "event_types.0"),
        ({"url": subscriber.url, "event_types": []}, "event_types"),
        ({"url": "ftp://example.com/x", "event_types": ["theme.created"]}, "url"),
        ({"event_types": ["theme.created"]}, "url"),
        ({"url": subscriber.url, "event_types": ["brief.ready"], "extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = client.post(API, json=body, headers=admin_headers)
        assert response.status_code == 422, body
        error = response.json()["error"]
        fields = (
            [d["field"] for d in error["details"]]
            if isinstance(error["details"], list)
            else [error["details"]["field"]]
        )
        assert field in fields, (body, error)


def test_private_targets_are_refused_unless_allowed(
    client: TestClient, admin_headers: dict[str, str], subscriber: Subscriber
) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"outbound_allow_private": False}
    )
    for url in (subscriber.url, "http://169.254.169.254/latest", "http://10.0.0.8/hook"):
        response = client.post(
            API, json={"url": url, "event_types": ["theme.created"]}, headers=admin_headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"field": "url"}
        assert "private or reserved" in response.json()["error"]["message"]


def test_disable_enable_delete(
    client: TestClient, admin_headers: dict[str, str], subscriber: Subscriber
) -> None:
    created = subscribe(client, admin_headers, subscriber.url, "faq.published")
    path = f"{API}/{created['id']}"
    disabled = client.post(f"{path}/disable", json={"reason": "maintenance"}, headers=admin_headers)
    assert (
        disabled.json()["active"] is False and disabled.json()["disabled_reason"] == "maintenance"
    )
    enabled = client.post(f"{path}/enable", headers=admin_headers).json()
    assert enabled["active"] is True and enabled["disabled_reason"] is None
    assert client.delete(path, headers=admin_headers).status_code == 204
    missing = client.get(path, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "subscription_not_found"
    assert client.get(f"{path}/deliveries", headers=admin_headers).status_code == 404

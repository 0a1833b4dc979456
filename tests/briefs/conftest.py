"""Briefs fixtures: the fixture content library, users of each role, a signed-in client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.auth import tokens, users
from service.auth.models import User
from service.config import Settings
from service.db import Database

FIXTURE_LIBRARY = Path(__file__).resolve().parent.parent / "fixtures" / "briefs-library"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings, reading the small fixture library."""
    return settings.model_copy(update={"brief_library_dir": FIXTURE_LIBRARY})


@pytest.fixture
def make_user(db: Database) -> Callable[..., User]:
    def make(email: str = "ana@example.ph", role: str = "commercial") -> User:
        with db.session() as session:
            return users.add_user(session, email=email, role=role, password=PASSWORD, name="Ana")

    return make


@pytest.fixture
def token_for(db: Database) -> Callable[..., dict[str, str]]:
    """Bearer headers for a token with `scopes`, optionally belonging to `user`."""

    def make(scopes: list[str], user: User | None = None) -> dict[str, str]:
        with db.session() as session:
            _, secret = tokens.create_token(
                session, name="test", scopes=scopes, user_id=user.id if user else None
            )
        return {"Authorization": f"Bearer {secret}"}

    return make


def csrf_from(page: httpx.Response) -> str:
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def sign_in(client: TestClient, email: str = "ana@example.ph") -> None:
    token = csrf_from(client.get("/login"))
    form = {"email": email, "password": PASSWORD, "next": "/", "csrf_token": token}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text


def brief_request(**overrides: Any) -> dict[str, Any]:
    """A typical request (CONTRACT.md fields)."""
    return {
        "merchant_name": "Sari-Sari Express",
        "website": "https://sarisari.example.ph",
        "industry": "online grocery",
        "segment": "smb",
        "monthly_volume_php": 1_200_000,
        "average_ticket_php": 850,
        "payment_methods": ["card", "gcash", "qrph"],
        "integration_channel": "checkout",
        "tech_stack": "",
        "go_live_date": "2031-03-01",
        "questions": "How long is the refund window for cards?\nCan we white-label the QR page?",
        "contact_email": "dev@sarisari.example.ph",
        **overrides,
    }

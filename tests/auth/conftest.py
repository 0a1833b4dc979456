"""Sign-in fixtures: the app with the page routes, users, and a signed-in browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.auth import users
from service.auth.models import User
from service.auth.routes import install_page_handlers, router
from service.db import Database

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """The app with the sign-in pages, for as long as create_app does not include them."""
    if not any(getattr(route, "path", None) == "/login" for route in app.routes):
        app.include_router(router)
        install_page_handlers(app)
    return app


@pytest.fixture
def make_user(db: Database) -> Callable[..., User]:
    """Create a user (committed) and return it."""

    def make(
        email: str = "ana@example.ph", role: str = "commercial", password: str = PASSWORD
    ) -> User:
        with db.session() as session:
            return users.add_user(session, email=email, role=role, password=password, name="Ana")

    return make


def csrf_from(page: httpx.Response) -> str:
    """The csrf_token hidden field of a rendered form."""
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no csrf_token field"
    return match.group(1)


def log_in(
    client: TestClient,
    email: str = "ana@example.ph",
    password: str = PASSWORD,
    next_path: str = "/",
) -> httpx.Response:
    """Submit the login form the way a browser does (GET the form, POST it back)."""
    token = csrf_from(client.get("/login"))
    form = {"email": email, "password": password, "next": next_path, "csrf_token": token}
    response: httpx.Response = client.post("/login", data=form, follow_redirects=False)
    return response


def set_cookie_header(response: httpx.Response, name: str) -> str | None:
    """The Set-Cookie header that sets `name`, or None."""
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return found[0] if found else None

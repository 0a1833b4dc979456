"""Sign-in pages: cookie attributes, CSRF, rate limiting, redirects, sign-out, the layout."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from service.auth import sessions, users
from service.auth.csrf import CsrfProtected
from service.auth.models import User
from service.auth.routes import safe_next
from service.auth.sessions import CurrentUser
from service.config import Settings
from service.db import Database
from service.render.pages import NAV
from tests.auth.conftest import PASSWORD, csrf_from, log_in, set_cookie_header

MakeUser = Callable[..., User]


@pytest.fixture
def https_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_login_form_has_labelled_fields_and_a_csrf_token(client: TestClient) -> None:
    page = client.get("/login?next=/briefs/new")
    assert page.status_code == 200
    assert '<label for="email">' in page.text and 'id="email"' in page.text
    assert '<label for="password">' in page.text and 'type="password"' in page.text
    assert 'name="next" value="/briefs/new"' in page.text
    assert csrf_from(page)
    cookie = set_cookie_header(page, "relay_csrf") or ""
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_login_sets_an_httponly_samesite_lax_session_cookie(
    client: TestClient, make_user: MakeUser, settings: Settings
) -> None:
    make_user()
    answer = log_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = (set_cookie_header(answer, "relay_session") or "").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert f"max-age={settings.session_max_age_seconds}" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    assert client.get("/", follow_redirects=False).status_code == 200


def test_session_cookie_is_secure_over_https(https_client: TestClient, make_user: MakeUser) -> None:
    make_user()
    answer = log_in(https_client)
    assert "secure" in (set_cookie_header(answer, "relay_session") or "").lower()


def test_session_cookie_is_secure_behind_an_https_proxy(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user()
    token = csrf_from(client.get("/login"))
    form = {"email": "ana@example.ph", "password": PASSWORD, "csrf_token": token}
    answer = client.post(
        "/login", data=form, headers={"X-Forwarded-Proto": "https"}, follow_redirects=False
    )
    assert "secure" in (set_cookie_header(answer, "relay_session") or "").lower()


def test_wrong_password_shows_an_error_and_sets_no_cookie(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user()
    answer = log_in(client, password="not the password")
    assert answer.status_code == 401
    assert "Wrong email or password." in answer.text
    assert 'value="ana@example.ph"' in answer.text  # the email is kept, the password is not
    assert set_cookie_header(answer, "relay_session") is None


def test_empty_fields_are_refused_without_counting_a_failure(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user()
    answer = log_in(client, password="")
    assert answer.status_code == 400 and "Enter your email and password." in answer.text


def test_rate_limit_blocks_even_the_right_password(
    client: TestClient, make_user: MakeUser, settings: Settings
) -> None:
    make_user()
    for _ in range(settings.login_max_failures):
        assert log_in(client, password="guess guess guess").status_code == 401
    blocked = log_in(client)
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts; try again in 15 minutes." in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert set_cookie_header(blocked, "relay_session") is None


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_without_the_right_csrf_token_is_refused(
    client: TestClient, make_user: MakeUser, token: str | None
) -> None:
    make_user()
    client.get("/login")
    form = {"email": "ana@example.ph", "password": PASSWORD}
    if token is not None:
        form["csrf_token"] = token
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert "Form expired" in answer.text and "reload it" in answer.text
    assert set_cookie_header(answer, "relay_session") is None


def test_login_csrf_token_is_bound_to_the_browsers_cookie(
    client: TestClient, app: FastAPI, make_user: MakeUser
) -> None:
    make_user()
    token = csrf_from(client.get("/login"))
    with TestClient(app) as other_browser:
        other_browser.get("/login")  # a different pre-session cookie
        form = {"email": "ana@example.ph", "password": PASSWORD, "csrf_token": token}
        assert other_browser.post("/login", data=form).status_code == 403


def test_logout_needs_the_csrf_token_then_clears_the_cookie(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user()
    log_in(client)
    home = client.get("/")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    bad = {"csrf_token": "x" * 64}
    assert client.post("/logout", data=bad, follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in
    answer = client.post("/logout", data={"csrf_token": csrf_from(home)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert 'relay_session=""' in (set_cookie_header(answer, "relay_session") or "")
    assert "You are signed out." in client.get("/login").text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_each_sign_in_gets_a_new_csrf_token(client: TestClient, make_user: MakeUser) -> None:
    make_user()
    log_in(client)
    first = csrf_from(client.get("/"))
    client.cookies.delete("relay_session")
    log_in(client)
    assert csrf_from(client.get("/")) != first


def test_unsigned_visitor_is_sent_to_login_and_back(
    client: TestClient, make_user: MakeUser
) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/"
    make_user()
    assert log_in(client, next_path="/briefs/new").headers["location"] == "/briefs/new"


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "evil", ""],
)
def test_next_never_leaves_the_site(client: TestClient, make_user: MakeUser, target: str) -> None:
    make_user()
    assert log_in(client, next_path=target).headers["location"] == "/"


def test_safe_next_keeps_local_paths_with_queries() -> None:
    assert safe_next("/themes?sort=impact&page=2") == "/themes?sort=impact&page=2"
    assert safe_next(None) == "/"


def test_signed_in_visitor_skips_the_login_form(client: TestClient, make_user: MakeUser) -> None:
    make_user()
    log_in(client)
    answer = client.get("/login?next=/faqs", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/faqs"


def test_deactivated_user_is_signed_out(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    make_user()
    log_in(client)
    with db.session() as session:
        users.deactivate(session, email="ana@example.ph")
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/"
    assert 'relay_session=""' in (set_cookie_header(answer, "relay_session") or "")


def test_a_password_change_ends_existing_sessions(
    client: TestClient, db: Database, make_user: MakeUser
) -> None:
    make_user()
    log_in(client)
    with db.session() as session:
        users.set_password(session, email="ana@example.ph", password="another long passphrase")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_tampered_or_expired_cookie_is_not_a_session(
    client: TestClient, make_user: MakeUser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user()
    log_in(client)
    cookie = client.cookies["relay_session"]
    client.cookies.set("relay_session", cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set("relay_session", cookie)
    later = int(time.time()) + settings.session_max_age_seconds + 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _self: later)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_home_page_shows_who_you_are_the_nav_and_a_sign_out_form(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user(role="product")
    log_in(client)
    page = client.get("/")
    assert "ana@example.ph" in page.text and "product" in page.text
    for link in NAV:  # every page in the nav, and each of them exists
        assert f'href="{link.href}"' in page.text
        assert client.get(link.href).status_code != 404, link.href
    assert '<nav class="main-nav" aria-label="Main">' in page.text
    assert 'action="/logout"' in page.text and csrf_from(page)
    assert page.headers["cache-control"] == "no-store"


def test_stylesheet_is_served_locally(client: TestClient) -> None:
    css = client.get("/static/relay.css")
    assert css.status_code == 200 and ":focus-visible" in css.text
    assert "http://" not in css.text and "https://" not in css.text


def test_without_a_configured_secret_a_private_key_file_is_made_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", session_secret=None, _env_file=None)
    key = sessions.secret_key(settings)
    path = tmp_path / "data" / "session.key"
    assert len(key) >= 32 and path.read_bytes() == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sessions.secret_key(settings) == key


def test_a_refused_form_on_a_route_that_loaded_the_user_first_is_a_403_page(
    app: FastAPI, client: TestClient, make_user: MakeUser
) -> None:
    # The error page is rendered after the request's transaction has ended: it must not
    # touch database objects of that transaction (the signed-in user in the header).
    @app.post("/test-only/form")
    def form(user: CurrentUser, _csrf: CsrfProtected) -> dict[str, str]:
        return {"user": user.id}

    make_user(role="product")
    log_in(client)
    answer = client.post("/test-only/form", data={"csrf_token": "forged"})
    assert answer.status_code == 403
    assert "Form expired" in answer.text
    assert '<span class="who">Ana <span class="role">product</span>' in answer.text

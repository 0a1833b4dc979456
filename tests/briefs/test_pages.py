"""The brief pages: sign-in and roles, the form's validation beside each field, the list."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from service.auth.models import User
from tests.briefs.conftest import csrf_from, sign_in

FORM = {
    "merchant_name": "Kape Co.",
    "website": "kape.example.ph",
    "industry": "coffee",
    "segment": "smb",
    "monthly_volume_php": "₱350,000",
    "average_ticket_php": "180.50",
    "integration_channel": "shopify",
    "platform_name": "",
    "tech_stack": "",
    "go_live_date": "2031-01-15",
    "questions": "Can customers pay with GCash on Shopify?",
    "contact_email": "owner@kape.example.ph",
}


def post_form(client: TestClient, form: dict[str, str], methods: list[str]) -> object:
    token = csrf_from(client.get("/briefs/new"))
    data = {**form, "csrf_token": token, "payment_methods": methods}
    return client.post("/briefs", data=data, follow_redirects=False)


def test_pages_need_sign_in_and_a_commercial_or_admin_role(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    for path in ("/briefs", "/briefs/new", "/briefs/brf_x"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    make_user("cs@example.ph", role="cs")
    sign_in(client, "cs@example.ph")
    assert client.get("/briefs/new").status_code == 403


def test_form_is_accessible_and_lists_the_taxonomy(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user()
    sign_in(client)
    page = client.get("/briefs/new")
    assert page.status_code == 200
    for method in ("card", "gcash", "paymaya", "grab_pay", "shopee_pay", "qrph", "dob", "billease"):
        assert f'id="payment_methods-{method}"' in page.text
        assert f'for="payment_methods-{method}"' in page.text
    for field in ("merchant_name", "website", "go_live_date", "questions", "contact_email"):
        assert f'<label for="{field}"' in page.text
    assert "<script>" not in page.text and "style=" not in page.text  # strict CSP holds
    assert 'href="/briefs/new"' in page.text  # the navigation has the new links


def test_invalid_fields_get_messages_beside_them_and_input_is_kept(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user()
    sign_in(client)
    bad = {**FORM, "contact_email": "not-an-email", "monthly_volume_php": "lots"}
    response = post_form(client, bad, methods=[])
    assert response.status_code == 422
    html = response.text
    errors = dict(re.findall(r'<p class="field-error" id="([a-z_]+)-error">([^<]+)</p>', html))
    assert set(errors) == {"contact_email", "monthly_volume_php", "payment_methods"}
    assert errors["payment_methods"] == "Choose at least one payment method."
    assert (
        'id="contact_email" name="contact_email" type="email" maxlength="320" value="not-an-email"'
        in html
    )
    assert 'aria-describedby="contact_email-error" aria-invalid="true"' in html
    assert 'value="Kape Co."' in html and "Can customers pay with GCash on Shopify?" in html
    assert '<option value="shopify" selected>' in html


def test_valid_form_redirects_to_the_brief_page(
    client: TestClient,
    make_user: Callable[..., User],
    run_worker: Callable[[], int],
) -> None:
    make_user()
    sign_in(client)
    response = post_form(client, FORM, methods=["card", "gcash"])
    assert response.status_code == 303  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    waiting = client.get(location)
    assert "queued" in waiting.text and waiting.headers["refresh"] == "3"
    run_worker()
    ready = client.get(location)
    assert "refresh" not in ready.headers
    assert 'id="download-pdf"' in ready.text
    assert "Recommended integration path: Shopify plugin" in ready.text  # the preview
    pdf = client.get(f"{location}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    listing = client.get("/briefs?q=kape")
    assert "Kape Co." in listing.text and "Shopify plugin" in listing.text
    assert "Kape Co." not in client.get("/briefs?q=nothing-like-it").text


def test_form_without_csrf_is_refused(client: TestClient, make_user: Callable[..., User]) -> None:
    make_user()
    sign_in(client)
    response = client.post("/briefs", data={**FORM, "payment_methods": ["card"]})
    assert response.status_code == 403


def test_commercial_users_see_only_their_briefs_and_admins_all(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user("ana@example.ph")
    make_user("ben@example.ph")
    make_user("root@example.ph", role="admin")
    sign_in(client, "ana@example.ph")
    location = post_form(client, FORM, methods=["card"]).headers["location"]  # type: ignore[attr-defined]
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/briefs"))})
    sign_in(client, "ben@example.ph")
    assert "Kape Co." not in client.get("/briefs").text
    assert client.get(location).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/briefs"))})
    sign_in(client, "root@example.ph")
    assert "Kape Co." in client.get("/briefs").text
    assert client.get(location).status_code == 200

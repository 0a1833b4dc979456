"""The FAQ review pages: drafts to review, CSRF-protected actions, who may approve."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from service.db import Database
from tests.faq.conftest import entry_of


def test_cs_reviews_and_publishes_from_the_pages(
    db: Database, client: TestClient, sign_in: Callable[[str], str], generated: list[str]
) -> None:
    token = sign_in("cs")
    faq_id = generated[0]
    listing = client.get("/faqs")
    assert "To review (" in listing.text and f'href="/faqs/{faq_id}"' in listing.text
    page = client.get(f"/faqs/{faq_id}")
    assert "Approve version 1" in page.text and "Publish" not in page.text
    assert "<h2>Symptoms</h2>" in page.text  # the Markdown rendered, escaped

    forged = client.post(f"/faqs/{faq_id}/approve", data={"version": "1"})
    assert forged.status_code == 403 and entry_of(db, faq_id).status == "draft"
    form = {"version": "1", "csrf_token": token}
    done = client.post(f"/faqs/{faq_id}/approve", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/faqs/{faq_id}"
    assert entry_of(db, faq_id).status == "approved"
    assert "Published" not in client.get(f"/faqs/{faq_id}").text.split("Review</h2>")[0]

    publish = {"csrf_token": token}
    client.post(f"/faqs/{faq_id}/publish", data=publish, follow_redirects=False)
    assert entry_of(db, faq_id).published_version == 1

    edit = {"csrf_token": token, "question": "Why is my <b>key</b> refused?", "body": "## Symptoms"}
    client.post(f"/faqs/{faq_id}/edit", data=edit, follow_redirects=False)
    after = client.get(f"/faqs/{faq_id}")
    assert entry_of(db, faq_id).current_version == 2
    assert "Why is my &lt;b&gt;key&lt;/b&gt; refused?" in after.text and "<b>key" not in after.text


def test_a_product_person_edits_but_cannot_approve(
    db: Database, client: TestClient, sign_in: Callable[[str], str], generated: list[str]
) -> None:
    token = sign_in("product")
    faq_id = generated[0]
    page = client.get(f"/faqs/{faq_id}")
    assert "Approve version" not in page.text and "Save as a new version" in page.text
    answer = client.post(f"/faqs/{faq_id}/approve", data={"csrf_token": token, "version": "1"})
    assert "only cs and admin people may approve" in answer.text.lower()
    assert entry_of(db, faq_id).status == "draft"


def test_pages_need_sign_in(client: TestClient) -> None:
    answer = client.get("/faqs", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")

"""The briefs API (CONTRACT.md): request, status through the real worker, PDF, reuse."""

from __future__ import annotations

import io
from collections.abc import Callable

import pypdf
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.auth.models import User
from service.briefs.models import Brief
from service.db import Database
from service.inbox.models import InboxEvent
from tests.briefs.conftest import brief_request

BRIEFS = "/api/v1/briefs"


def test_request_renders_in_the_worker_and_serves_the_pdf(
    client: TestClient, admin_headers: dict[str, str], run_worker: Callable[[], int]
) -> None:
    accepted = client.post(BRIEFS, json=brief_request(), headers=admin_headers)
    assert accepted.status_code == 202, accepted.text
    brief_id = accepted.json()["id"]
    assert accepted.json()["status"] == "queued"

    queued = client.get(f"{BRIEFS}/{brief_id}", headers=admin_headers).json()
    assert queued["status"] == "queued" and queued["pdf_url"] is None and queued["error"] is None
    not_yet = client.get(f"{BRIEFS}/{brief_id}/pdf", headers=admin_headers)
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "brief_not_ready"

    assert run_worker() >= 1
    ready = client.get(f"{BRIEFS}/{brief_id}", headers=admin_headers).json()
    assert ready["status"] == "ready", ready
    assert ready["pdf_url"] == f"{BRIEFS}/{brief_id}/pdf"
    assert ready["recommended_channel"] == "checkout"
    assert ready["out_of_date"] is False

    pdf = client.get(ready["pdf_url"], headers=admin_headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 4
    assert "Sari-Sari Express" in reader.pages[0].extract_text()


def test_unknown_payment_method_or_channel_is_422_naming_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    bad_method = client.post(
        BRIEFS, json=brief_request(payment_methods=["card", "bitcoin"]), headers=admin_headers
    )
    assert bad_method.status_code == 422
    error = bad_method.json()["error"]
    assert [d["field"] for d in error["details"]] == ["payment_methods"]
    assert "bitcoin" in error["details"][0]["message"]

    bad_channel = client.post(
        BRIEFS, json=brief_request(integration_channel="magento"), headers=admin_headers
    )
    assert bad_channel.status_code == 422
    assert [d["field"] for d in bad_channel.json()["error"]["details"]] == ["integration_channel"]

    no_platform = client.post(
        BRIEFS, json=brief_request(integration_channel="other"), headers=admin_headers
    )
    assert [d["field"] for d in no_platform.json()["error"]["details"]] == ["platform_name"]

    unknown_field = client.post(BRIEFS, json=brief_request(colour="red"), headers=admin_headers)
    assert unknown_field.status_code == 422


def test_scopes_and_ownership(
    client: TestClient,
    make_user: Callable[..., User],
    token_for: Callable[..., dict[str, str]],
) -> None:
    ana, ben = make_user("ana@example.ph"), make_user("ben@example.ph")
    assert client.post(BRIEFS, json=brief_request()).status_code == 401
    reader = token_for(["feedback:read"], ana)
    assert client.post(BRIEFS, json=brief_request(), headers=reader).status_code == 403

    ana_headers, ben_headers = token_for(["briefs:write"], ana), token_for(["briefs:write"], ben)
    brief_id = client.post(BRIEFS, json=brief_request(), headers=ana_headers).json()["id"]
    assert client.get(f"{BRIEFS}/{brief_id}", headers=ana_headers).status_code == 200
    # Another Commercial user's token does not learn that the brief exists.
    assert client.get(f"{BRIEFS}/{brief_id}", headers=ben_headers).status_code == 404
    assert client.get(f"{BRIEFS}/{brief_id}", headers=reader).status_code == 403


def test_identical_requests_reuse_the_brief_and_the_pdf(
    client: TestClient,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
    token_for: Callable[..., dict[str, str]],
    run_worker: Callable[[], int],
    db: Database,
) -> None:
    first = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()
    again = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()
    assert again["id"] == first["id"]  # one brief, one job
    run_worker()
    after = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()
    assert after == {"id": first["id"], "status": "ready"}

    # Another owner gets their own brief, but the same content: the stored PDF is reused.
    other = token_for(["briefs:write"], make_user("ben@example.ph"))
    theirs = client.post(BRIEFS, json=brief_request(), headers=other).json()
    assert theirs["id"] != first["id"]
    run_worker()
    with db.read_session() as session:
        briefs = {b.id: b for b in session.scalars(select(Brief))}
        jobs = session.scalars(select(InboxEvent).where(InboxEvent.task == "briefs.render")).all()
        session.expunge_all()  # keep the loaded values readable after the snapshot ends
    assert len(jobs) == 2
    mine, yours = briefs[first["id"]], briefs[theirs["id"]]
    assert yours.status == "ready"
    assert yours.pdf_path == mine.pdf_path and yours.fingerprint == mine.fingerprint
    assert yours.page_count == mine.page_count and mine.page_count
    assert mine.pdf_path is not None and mine.pdf_path.startswith("briefs/")


def test_changed_request_is_a_new_brief(client: TestClient, admin_headers: dict[str, str]) -> None:
    first = client.post(BRIEFS, json=brief_request(), headers=admin_headers).json()
    changed = client.post(
        BRIEFS, json=brief_request(payment_methods=["card"]), headers=admin_headers
    ).json()
    assert changed["id"] != first["id"]

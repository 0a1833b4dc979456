"""The PDF a brief becomes, read back with pypdf: what a merchant's reader will see."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pypdf
import pytest
from fastapi.testclient import TestClient

from service.briefs.content import brief_content
from service.content.library import library_for
from service.db import Database
from service.themes.models import Theme
from tests.briefs.conftest import FIXTURE_LIBRARY, brief_request
from tests.render.test_pdf import loopback  # noqa: F401 - a fixture

BRIEFS = "/api/v1/briefs"


def add_theme(db: Database, **fields: object) -> None:
    defaults: dict[str, object] = {"record_count": 5, "merchant_count": 3, "jira_keys": []}
    with db.session() as session:
        session.add(Theme(**{**defaults, **fields}))


def rendered(
    client: TestClient, headers: dict[str, str], run_worker: Callable[[], int], **overrides: object
) -> pypdf.PdfReader:
    brief_id = client.post(BRIEFS, json=brief_request(**overrides), headers=headers).json()["id"]
    run_worker()
    response = client.get(f"{BRIEFS}/{brief_id}/pdf", headers=headers)
    assert response.status_code == 200, response.text
    return pypdf.PdfReader(io.BytesIO(response.content))


def text(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def themes(db: Database) -> None:
    add_theme(
        db,
        id="thm_qr",
        title="QR Ph codes expire before customers pay",
        status="escalated",
        product_area="qrph",
        payment_method="qrph",
        jira_keys=["PAY-812"],
    )
    add_theme(
        db,
        id="thm_wont",
        title="GCash refunds take five days",
        status="wont_fix",
        product_area="refunds",
        payment_method="gcash",
    )
    add_theme(
        db,
        id="thm_fixed",
        title="Checkout success_url dropped query strings",
        status="fixed",
        product_area="checkout",
    )
    add_theme(
        db,
        id="thm_other",
        title="BillEase approvals are slow",
        product_area="bnpl",
        payment_method="billease",
        status="investigating",
    )


@pytest.mark.usefixtures("themes")
def test_brief_pdf_holds_every_section_the_issue_asks_for(
    client: TestClient, admin_headers: dict[str, str], run_worker: Callable[[], int]
) -> None:
    reader = rendered(client, admin_headers, run_worker)
    body = text(reader)
    flat = re.sub(r"\s+", " ", body)
    assert 4 <= len(reader.pages) <= 12
    assert "Sari-Sari Express" in reader.pages[0].extract_text()
    for heading in (
        "Executive summary",
        "Recommended integration path: Checkout (hosted)",
        "Payment flow",
        "Known limitations",
        "Your questions",
        "To confirm with Product",
        "Go-live checklist",
        "Test plan",
        "Sources and versions",
    ):
        assert heading in flat, heading
    for method in ("Cards", "GCash", "QR Ph"):  # every chosen method has its section
        assert re.search(rf"{method}\s+What it is", body), method
    # Known limitations: open and won't-fix themes on the chosen methods, with Jira and status.
    assert "QR Ph codes expire before customers pay" in flat and "PAY-812" in flat
    assert "escalated" in flat
    assert "GCash refunds take five days" in flat and "wont fix" in flat
    assert "success_url dropped" not in flat  # fixed
    assert "BillEase approvals" not in flat  # not a chosen method
    # The card question is answered from the fact sheet; the white-label one goes to Product.
    assert "The refund window for cards is 60 days." in flat
    assert "Can we white-label the QR page?" in flat
    assert "4120000000000007" in flat  # the test cards
    # The content versions and reviewed dates the brief relies on.
    library = brief_content(library_for(FIXTURE_LIBRARY))
    for doc_id in ("pm-card", "pm-gcash", "pm-qrph", "guide-checkout", "go-live-checklist"):
        document = library.library.documents[doc_id]
        assert document.version in flat and doc_id in flat
    assert "2026-10-01" in flat
    # Page numbers and the table of contents.
    assert f"Page 2 of {len(reader.pages)}" in reader.pages[1].extract_text()
    assert re.search(r"Known limitations\s*\.{3,}\s*\d+", flat)


def test_pdf_metadata(
    client: TestClient, admin_headers: dict[str, str], run_worker: Callable[[], int]
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    metadata = rendered(client, admin_headers, run_worker).metadata
    assert metadata is not None
    assert metadata.title == "Solution brief: Sari-Sari Express"
    assert metadata.author == "Relay · Customer Success"
    assert metadata.creation_date is not None and metadata.creation_date >= before
    assert "Checkout" in (metadata.subject or "")


def test_markup_and_urls_in_form_fields_are_text_not_fetched(
    client: TestClient,
    admin_headers: dict[str, str],
    run_worker: Callable[[], int],
    loopback: tuple[str, list[str]],  # noqa: F811
) -> None:
    internal, requests = loopback  # an "internal" server that must hear nothing
    hostile = f'<img src="file:///etc/passwd"><img src="{internal}/meta-data/">'
    reader = rendered(
        client,
        admin_headers,
        run_worker,
        merchant_name=f"Evil {hostile[:60]}",
        industry='<link rel="attachment" href="file:///etc/passwd">',
        questions=hostile,
    )
    flat = re.sub(r"\s+", "", text(reader))
    assert '<imgsrc="file:///etc/passwd">' in flat  # shown as the characters typed
    assert "root:x:0:0" not in flat
    assert not reader.attachments
    assert requests == []
    for page in reader.pages:
        xobjects = page["/Resources"].get("/XObject", {})
        assert all(x.get_object().get("/Subtype") != "/Image" for x in xobjects.values())

"""The escalation package: readable Jira wiki markup that merchant text cannot inject into."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db import Database
from service.escalation import wiki
from service.feedback.models import Feedback
from tests.escalation.conftest import Seeded, add_ticket
from tests.fakes.jira_server import FakeJira

HOSTILE = (
    "GCash fails {color:red}AMOUNT_EXCEED_LIMIT{color} see [click here|http://evil.example] "
    "!http://evil.example/x.png! | cell *bold* -strike- {code}rm -rf{code} "
    "{noformat}x{noformat} back\\slash\nh1. Heading\n# list"
)


def test_escape_neutralises_every_markup_character_but_keeps_words_readable() -> None:
    escaped = wiki.escape(HOSTILE)
    for raw in ("{color:red}", "[click here|", "!http", "*bold*", "-strike-", "{code}", "\nh1."):
        assert not re.search(r"(?<!\\)" + re.escape(raw), escaped), raw
    assert "\\{color:red\\}" in escaped and "\\[click here\\|http://evil.example\\]" in escaped
    assert "back&#92;slash" in escaped and "\n\\h1. Heading" in escaped and "\n\\# list" in escaped
    assert wiki.escape("pay-mongo pi_3Kx2 2026-11-26") == "pay-mongo pi_3Kx2 2026-11-26"
    assert wiki.link("T", "javascript:alert(1)") == "T"
    assert wiki.link("zendesk:1", "https://x.zendesk.com/agent/tickets/1") == (
        "[zendesk:1|https://x.zendesk.com/agent/tickets/1]"
    )


def test_preview_is_jira_wiki_markup_with_the_whole_package(
    client: TestClient, admin_headers: dict[str, str], seeded: Seeded, jira: FakeJira
) -> None:
    answer = client.get(
        f"/api/v1/themes/{seeded.theme_id}/escalation-preview", headers=admin_headers
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    for heading in (
        "Problem",
        "Expected vs actual",
        "Error codes",
        "Environment",
        "Reproduction (from the merchants' reports)",
        "Example cases",
        "Impact",
        "Helpdesk tickets",
    ):
        assert f"h2. {heading}\n" in text
    assert "{{AMOUNT_EXCEED_LIMIT}}" in text  # the code, monospace
    assert "||Distinct merchants|3|" in text and "PHP 15,000,000 per month" in text
    assert "{{pay_9Xk2LmNpQr7sTu}}" in text and "{{pi_8ZyXwVuTsRqPoN}}" in text
    assert "live: 3 record(s)" in text and "payment method {{gcash}}" in text
    assert re.search(r"\* zendesk:510[123]", text)
    assert "{\n" not in text and not text.startswith("{")  # no JSON dump
    assert jira.requests == []  # a preview calls nobody


def test_merchant_text_cannot_inject_markup_into_the_issue(
    client: TestClient,
    admin_headers: dict[str, str],
    db: Database,
    run_worker: Callable[[], int],
    jira: FakeJira,
) -> None:
    add_ticket(client, db, 6001, "9100", "GCash [click|http://evil] {panel}", HOSTILE)
    run_worker()
    with db.session() as session:
        record = session.scalars(select(Feedback)).one()
    text = client.get(
        f"/api/v1/themes/{record.theme_id}/escalation-preview", headers=admin_headers
    ).text
    assert "[click|http://evil]" not in text and "{panel}" not in text
    assert "{color:red}" not in text and "!http://evil.example/x.png!" not in text
    assert "\\[click\\|http://evil\\]" in text

"""The Product digest: grouped themes, new and fixed themes, charts, stored HTML and PDF."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.auth import tokens, users
from service.config import Settings, get_settings
from service.db import Database, new_id
from service.digest import service as digest
from service.digest.cli import digest_app
from service.errors import InvalidRequest
from service.escalation.models import JiraLink
from service.themes.models import Theme

END = date(2026, 6, 1)  # the digest's period ends at the start of this day
PASSWORD = "correct horse battery staple"


def daily(*pairs: tuple[date, int]) -> dict[str, int]:
    return {day.isoformat(): n for day, n in pairs}


def add_theme(
    session: Session,
    title: str,
    category: str,
    counts: dict[str, int],
    *,
    status: str = "new",
    first_seen: datetime | None = None,
    updated_at: datetime | None = None,
    rank: float = 1.0,
) -> Theme:
    """A theme as the themes service leaves it (figures consistent with `counts`)."""
    first = first_seen or datetime(2026, 3, 1, tzinfo=UTC)
    theme = Theme(
        id=new_id("th"),
        title=title,
        status=status,
        category=category,
        product_area="webhooks",
        error_codes=[],
        signature={},
        centroid={},
        record_count=sum(counts.values()),
        merchant_count=3,
        tpv_at_risk_php=12_000_000,
        first_seen=first,
        last_seen=first,
        daily_counts=counts,
        trend=0.5,
        rank_score=rank,
        jira_keys=[],
        created_at=first,
        updated_at=updated_at or first,
    )
    session.add(theme)
    session.flush()
    return theme


@pytest.fixture
def seeded(db: Database) -> dict[str, str]:
    """One theme per group, a new one, and two fixed ones (Jira-resolved and status-only)."""
    in_week = END - timedelta(days=2)
    with db.session() as session:
        ids = {
            "bug": add_theme(session, "Signature mismatch", "bug", daily((in_week, 4)), rank=3).id,
            "incident": add_theme(
                session, "QR Ph outage", "incident", daily((in_week, 2)), rank=2
            ).id,
            "docs": add_theme(session, "Refund timing unclear", "docs_gap", daily((in_week, 3))).id,
            "friction": add_theme(
                session,
                "Payout screen slow",
                "friction",
                daily((in_week, 1), (END - timedelta(days=20), 5)),
            ).id,
            "quiet": add_theme(
                session, "Old how-to", "how_to", daily((END - timedelta(days=30), 9))
            ).id,
            "new": add_theme(
                session,
                "Brand new <b>problem</b>",
                "bug",
                daily((in_week, 1)),
                first_seen=datetime.combine(in_week, datetime.min.time(), UTC),
            ).id,
        }
        fix_day = END - timedelta(weeks=2)
        before = [(fix_day - timedelta(days=d), 2) for d in range(1, 28, 7)]  # 2 a week
        after = [(fix_day + timedelta(days=3), 1)]  # 1 in the two weeks since
        jira_fixed = add_theme(
            session, "Webhook retries", "bug", daily(*before, *after), status="fixed"
        )
        session.add(
            JiraLink(
                jira_key="PAY-77",
                theme_id=jira_fixed.id,
                origin="relay",
                status="Done",
                status_category="done",
                fix_versions=[],
                resolved_at=datetime.combine(fix_day, datetime.min.time(), UTC),
            )
        )
        ids["fixed"] = jira_fixed.id
        ids["status_fixed"] = add_theme(
            session,
            "Docs typo",
            "docs_gap",
            daily((END - timedelta(days=40), 1)),
            status="fixed",
            updated_at=datetime.combine(END - timedelta(days=3), datetime.min.time(), UTC),
        ).id
    return ids


def test_period_ranges() -> None:
    assert digest.period_range("week", end=END) == (
        datetime(2026, 5, 25, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert digest.period_range("month", end=date(2026, 3, 31))[0] == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert digest.period_range("month", end=date(2026, 1, 15))[0] == datetime(
        2025, 12, 15, tzinfo=UTC
    )
    with pytest.raises(InvalidRequest) as caught:
        digest.period_range("year", end=END)
    assert caught.value.details == {"field": "period"}


def test_themes_are_grouped_by_what_breaks_is_unclear_or_hurts(
    db: Database, seeded: dict[str, str]
) -> None:
    with db.read_session() as session:
        view = digest.build(session, period="week", end=END)
        groups = {g.key: g for g in view.groups}
        assert [t.id for t in groups["breaks"].themes] == [
            seeded["bug"],
            seeded["incident"],
            seeded["new"],
        ]
        assert [t.id for t in groups["unclear"].themes] == [seeded["docs"]]  # "quiet" had nothing
        assert [t.id for t in groups["friction"].themes] == [seeded["friction"]]
        assert groups["breaks"].records_in_period == 4 + 2 + 1
        assert view.records_in_period == 4 + 2 + 3 + 1 + 1
        friction = groups["friction"].themes[0]
        assert friction.weekly[-1] == 1 and sum(friction.weekly) == 6
        assert friction.merchant_count == 3 and friction.tpv_at_risk_php == 12_000_000
        assert [t.id for t in view.new_themes] == [seeded["new"]]


def test_fixed_themes_show_the_tickets_they_stopped(db: Database, seeded: dict[str, str]) -> None:
    with db.read_session() as session:
        view = digest.build(session, period="week", end=END)
    fixed = {line.id: line for line in view.fixed}
    jira = fixed[seeded["fixed"]]
    assert jira.fixed_on == END - timedelta(weeks=2) and jira.fixed_by == "Jira PAY-77 resolved"
    assert (jira.before_per_week, jira.after_per_week) == (2.0, 0.5)
    assert jira.stopped == 3  # (2 - 0.5) a week over the 2 weeks since the fix
    fallback = fixed[seeded["status_fixed"]]
    assert fallback.fixed_by == "status set to fixed" and fallback.after_per_week is None
    assert "<svg" in str(jira.chart) and "fix" in str(jira.chart)


def test_summary_is_json_without_charts(db: Database, seeded: dict[str, str]) -> None:
    with db.read_session() as session:
        summary = digest.build(session, period="week", end=END).summary()
    assert summary["groups"][0]["title"] == "What breaks"
    assert "chart" not in summary["groups"][0]["themes"][0]
    assert summary["start"] == "2026-05-25T00:00:00+00:00"


@pytest.fixture
def cli_settings(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    monkeypatch.setenv("RELAY_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _log_in(client: TestClient, db: Database) -> None:
    with db.session() as session:
        users.add_user(session, email="pm@example.ph", role="product", password=PASSWORD)
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    form = {"email": "pm@example.ph", "password": PASSWORD, "next": "/", "csrf_token": match[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_cli_stores_a_digest_served_as_json_html_pdf_and_page(
    db: Database,
    seeded: dict[str, str],
    cli_settings: Settings,
    settings: Settings,
    app: object,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    settings.data_dir = cli_settings.data_dir  # the app serves the files the CLI wrote
    result = CliRunner().invoke(digest_app, ["--period", "week", "--end", END.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Product digest · week 25 May to 31 May 2026" in result.output

    data = client.get("/api/v1/digests/latest", headers=admin_headers).json()
    assert data["period"] == "week" and data["summary"]["active_themes"] == 5

    html = client.get("/api/v1/digests/latest?format=html", headers=admin_headers)
    assert html.headers["content-type"].startswith("text/html")
    for heading in ("What breaks", "What&#39;s unclear", "What causes friction", "New themes"):
        assert heading in html.text
    assert "Fixed themes and the tickets they stopped" in html.text
    assert html.text.count("<svg") >= 8 and "<script" not in html.text
    assert "Brand new &lt;b&gt;problem&lt;/b&gt;" in html.text  # titles are escaped

    response = client.get("/api/v1/digests/latest?format=pdf", headers=admin_headers)
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("What breaks", "What causes friction", "Signature mismatch", "PAY-77"):
        assert expected in text
    assert reader.metadata is not None and "Product digest" in str(reader.metadata.title)

    assert client.get("/digests/latest", follow_redirects=False).status_code == 303
    _log_in(client, db)
    page = client.get("/digests/latest")
    assert page.status_code == 200 and "Signature mismatch" in page.text
    assert 'href="/digests/latest"' in page.text  # in the navigation
    assert client.get("/digests/latest.pdf").content.startswith(b"%PDF")
    assert client.get("/digests/digest.css").headers["content-type"].startswith("text/css")


def test_no_digest_yet(client: TestClient, db: Database, admin_headers: dict[str, str]) -> None:
    missing = client.get("/api/v1/digests/latest", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "digest_not_found"
    _log_in(client, db)
    page = client.get("/digests/latest")
    assert page.status_code == 200 and "relay digest --period week" in page.text


def test_digest_needs_feedback_read(client: TestClient, db: Database) -> None:
    with db.session() as session:
        _, clear = tokens.create_token(session, name="exports only", scopes=["export:read"])
    response = client.get("/api/v1/digests/latest", headers={"Authorization": f"Bearer {clear}"})
    assert response.status_code == 403

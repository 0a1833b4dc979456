"""`relay export feedback|themes --format … --out FILE` against the test database."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from service.config import get_settings
from service.db import Database
from service.exports.cli import export_app
from service.exports.models import ExportAudit
from service.themes import service as themes
from tests.exports.conftest import add_feedback

runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_database(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    monkeypatch.setenv("RELAY_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_feedback_to_csv_with_bom_filters_and_audit(
    db: Database, awkward: list[str], tmp_path: Path
) -> None:
    with db.session() as session:
        add_feedback(session, area="checkout")
    out = tmp_path / "feedback.csv"
    args = ["feedback", "--format", "csv", "--out", str(out), "--bom", "--product-area", "webhooks"]
    result = runner.invoke(export_app, args)
    assert result.exit_code == 0, result.output
    assert f"{len(awkward)} feedback row(s) written" in result.output
    assert "--since" in result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    assert sorted(r["id"] for r in rows) == sorted(awkward)
    assert not (tmp_path / "feedback.csv.partial").exists()
    with db.session() as session:
        audit = session.scalars(select(ExportAudit)).one()
        assert (audit.channel, audit.status, audit.rows) == ("cli", "completed", len(awkward))
        assert audit.actor.startswith("cli:") and audit.filters["product_area"] == "webhooks"
        assert audit.filters["bom"] is True


def test_themes_to_ndjson(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        themes.attach(session, record=add_feedback(session))
    out = tmp_path / "themes.ndjson"
    result = runner.invoke(export_app, ["themes", "--format", "ndjson", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["record_count"] == 1


def test_bad_options_name_the_option(tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    result = runner.invoke(export_app, ["feedback", "--out", out, "--category", "nope"])
    assert result.exit_code == 2 and "--category" in result.output
    result = runner.invoke(export_app, ["feedback", "--out", out, "--since", "garbage!"])
    assert result.exit_code == 2 and "--since" in result.output
    result = runner.invoke(export_app, ["feedback", "--out", out, "--format", "json", "--bom"])
    assert result.exit_code == 2 and "bom" in result.output
    assert not Path(out).exists()

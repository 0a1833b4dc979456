"""`relay faq generate` runs inline; `relay faq export --out DIR` writes one file per entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.config import Settings, get_settings
from service.db import Database
from service.faq.cli import faq_app


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    monkeypatch.setenv("RELAY_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_generate_then_export_markdown_files(
    db: Database, env: None, small_corpus: list[dict[str, Any]], tmp_path: Path
) -> None:
    runner = CliRunner()
    generated = runner.invoke(faq_app, ["generate"])
    assert generated.exit_code == 0 and " created" in generated.output
    assert runner.invoke(faq_app, ["generate"]).output.startswith("faq: 0 created, 0 updated")

    exported = runner.invoke(faq_app, ["export", "--out", str(tmp_path / "faqs")])
    assert exported.exit_code == 0, exported.output
    files = sorted((tmp_path / "faqs").glob("faq-*.md"))
    assert files and all(f.read_text().startswith("---\nid: faq-") for f in files)
    assert runner.invoke(faq_app, ["check"]).output.startswith("0 entries marked stale")

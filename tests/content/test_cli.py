"""`relay docs lint`: file:line findings, a summary, the exit status, and stored FAQs."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from service.config import get_settings
from service.content.cli import docs_app
from service.content.library import LIBRARY_DIR
from service.db import Database
from service.faq import service as faq_service

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"
SUMMARY = re.compile(r"^(\d+) files, (\d+) findings \((\d+) errors, (\d+) warnings\)$", re.M)
runner = CliRunner()


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test point the CLI's settings at a database of its choosing."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def library_with(tmp_path: Path, fixture: str) -> Path:
    """A copy of the shipped library plus one failing fixture (its links still resolve)."""
    root = tmp_path / "briefs"
    shutil.copytree(LIBRARY_DIR, root)
    shutil.copy(FIXTURES / "failing" / f"{fixture}.md", root / f"faq-{fixture}.md")
    return root


def lint(*args: str) -> Result:
    return runner.invoke(docs_app, ["lint", *args])


def summary(result: Result) -> tuple[int, ...]:
    match = SUMMARY.search(result.stdout)
    assert match, result.output
    return tuple(int(group) for group in match.groups())


def test_the_shipped_library_passes(use_database: None) -> None:
    result = lint("--no-faqs")
    assert result.exit_code == 0, result.output
    files, findings, errors, warnings = summary(result)
    assert files >= 15 and (findings, errors, warnings) == (0, 0, 0)


def test_errors_print_file_and_line_and_fail_the_run(use_database: None) -> None:
    result = lint("--no-faqs", "--path", str(FIXTURES / "libraries" / "catalogue"))
    assert result.exit_code == 1
    assert re.search(
        r"^\S*libraries/catalogue/errors\.yaml:10: catalogue: codes\.0\.kind: Input should be",
        result.stdout,
        re.M,
    ), result.stdout
    assert summary(result) == (1, 1, 1, 0)


def test_the_age_limit_comes_from_settings_or_the_option(
    use_database: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(library_with(tmp_path, "stale"))
    result = lint("--no-faqs", "--path", root)
    assert result.exit_code == 1
    assert "faq-stale.md:6: stale: reviewed_at 2025-01-15 is " in result.stdout
    assert lint("--no-faqs", "--path", root, "--max-age-days", "5000").exit_code == 0
    monkeypatch.setenv("RELAY_CONTENT_MAX_AGE_DAYS", "5000")
    get_settings.cache_clear()
    assert lint("--no-faqs", "--path", root).exit_code == 0


def test_warnings_are_printed_but_do_not_fail(use_database: None, tmp_path: Path) -> None:
    result = lint("--no-faqs", "--path", str(library_with(tmp_path, "sentence-length")))
    assert result.exit_code == 0, result.output
    assert "faq-sentence-length.md:22: sentence-length: warning: sentence has 48 words" in (
        result.stdout
    )
    assert summary(result)[1:] == (1, 0, 1)


def test_stored_faq_entries_are_linted_too(
    use_database: None, db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_DATABASE_URL", database_url)
    bad = (FIXTURES / "failing" / "banned-word.md").read_text(encoding="utf-8")
    good = (FIXTURES / "passing" / "faq-webhook-disabled.md").read_text(encoding="utf-8")
    entries = [("faq:faq_1@v3", bad), ("faq:faq_2@v1", good)]
    # The FAQ domain fills this seam; the lint only relies on its (label, Markdown) pairs.
    monkeypatch.setattr(faq_service, "markdown_documents", lambda session: entries)
    result = lint()
    assert result.exit_code == 1
    assert "faq:faq_1@v3:22: banned-word: avoid 'just'" in result.stdout
    assert re.search(r"^checked \d+ library files and 2 stored FAQ entries$", result.stdout, re.M)
    assert summary(result)[1:] == (2, 2, 0)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///{tmp}/missing/relay.db", "does not exist"),
        ("sqlite:///{tmp}/empty.db", "is not migrated (run `relay migrate`)"),
        ("postgresql+psycopg://relay:secret@127.0.0.1:1/relay", "is not reachable"),
    ],
)
def test_without_a_ready_database_only_files_are_linted(
    use_database: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    (tmp_path / "empty.db").touch()
    monkeypatch.setenv("RELAY_DATABASE_URL", url.format(tmp=tmp_path))
    result = lint()
    assert result.exit_code == 0, result.output
    assert reason in result.stderr and "linting files only" in result.stderr
    assert "secret" not in result.stderr  # the password is masked
    assert not (tmp_path / "missing").exists()  # linting created no database

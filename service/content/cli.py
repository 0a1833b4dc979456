"""`relay docs`: the content library's standards, checked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from service import migrate
from service.config import Settings, get_settings
from service.content.findings import Finding
from service.content.library import LIBRARY_DIR, document_paths
from service.content.lint import lint_library, lint_markdown, shipped_scope
from service.content.prose import DEFAULT_MAX_SENTENCE_WORDS
from service.db import Database
from service.faq import service as faq_service

docs_app = typer.Typer(
    help="The content library in briefs/ and generated FAQs.", no_args_is_help=True
)


@docs_app.callback()
def docs() -> None:
    """The content library in briefs/ and generated FAQs."""


@docs_app.command("lint")
def lint(
    path: Annotated[
        Path, typer.Option("--path", help="library folder to check", file_okay=False)
    ] = LIBRARY_DIR,
    max_age_days: Annotated[
        int | None,
        typer.Option(min=1, help="oldest allowed reviewed_at in days [RELAY_CONTENT_MAX_AGE_DAYS]"),
    ] = None,
    max_sentence_words: Annotated[
        int, typer.Option(min=5, help="longest allowed sentence in words")
    ] = DEFAULT_MAX_SENTENCE_WORDS,
    no_faqs: Annotated[
        bool, typer.Option("--no-faqs", help="skip the FAQ entries stored in the database")
    ] = False,
) -> None:
    """Check every content file (and stored FAQ entry) against the documentation standards."""
    settings = get_settings()
    age = max_age_days or settings.content_max_age_days
    today = dt.datetime.now(dt.UTC).date()
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is not a folder", param_hint="--path")
    findings = lint_library(
        path, max_age_days=age, today=today, max_sentence_words=max_sentence_words
    )
    documents = len(document_paths(path))
    faqs = [] if no_faqs else _stored_faqs(settings)
    scope = shipped_scope() if faqs else None  # FAQ entries link into the shipped library
    for label, text in faqs:
        findings += lint_markdown(
            label,
            text,
            kind="faq",
            today=today,
            max_age_days=age,
            max_sentence_words=max_sentence_words,
            scope=scope,
        )
    _report(findings, documents, len(faqs))


def _stored_faqs(settings: Settings) -> list[tuple[str, str]]:
    """The FAQ entries' Markdown, or none (said on stderr) when the database is not ready."""
    problem = _sqlite_missing(settings.database_url)
    if problem is None:
        database = Database(settings.database_url)
        try:
            if migrate.is_current(database.engine):
                with database.read_session() as session:
                    return faq_service.markdown_documents(session)
            problem = "is not migrated (run `relay migrate`)"
        except SQLAlchemyError as exc:
            problem = f"is not reachable ({type(exc).__name__})"
        finally:
            database.dispose()
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    typer.echo(f"note: the database {url} {problem}; linting files only", err=True)
    return []


def _sqlite_missing(url: str) -> str | None:
    """Opening a SQLite path that does not exist would create an empty database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database or "").exists() else "does not exist"


def _report(findings: list[Finding], documents: int, faqs: int) -> None:
    for finding in sorted(findings):
        typer.echo(str(finding))
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    typer.echo(f"checked {documents} library files and {faqs} stored FAQ entries")
    total = documents + faqs
    typer.echo(f"{total} files, {len(findings)} findings ({errors} errors, {warnings} warnings)")
    if errors:
        raise typer.Exit(code=1)

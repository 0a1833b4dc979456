"""`relay faq`: generate, review and export technical FAQ entries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.config import get_settings
from service.db import Database
from service.faq import document_cli
from service.faq import markdown as faq_markdown
from service.faq import service as faq_service
from service.faq.rewrite import rewriter_from

faq_app = typer.Typer(help="Technical FAQ entries.", no_args_is_help=True)
# `relay faq digest | quick-ref | training`: the printable documents for agents.
document_cli.register(faq_app)


@faq_app.command()
def generate(
    theme: Annotated[list[str] | None, typer.Option(help="only this theme id (repeatable)")] = None,
) -> None:
    """Draft or refresh the entry of every qualifying theme now (no worker needed)."""
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            report = faq_service.generate(
                session, settings=settings, theme_ids=theme, rewrite=rewriter_from(settings)
            )
    finally:
        database.dispose()
    typer.echo(
        f"faq: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged (themes with ≥ {settings.faq_min_merchants} merchants)"
    )


@faq_app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="directory to write <id>.md files into")],
    status: Annotated[
        str | None, typer.Option(help="only entries with this status (e.g. published)")
    ] = None,
) -> None:
    """Write each entry as a Markdown document (front matter + sections) into OUT."""
    database = Database(get_settings().database_url)
    try:
        with database.read_session() as session:
            docs = faq_service.export_docs(session, status=status)
    finally:
        database.dispose()
    faq_markdown.write_documents(docs, out)
    typer.echo(f"wrote {len(docs)} entr{'y' if len(docs) == 1 else 'ies'} to {out}")


@faq_app.command()
def check() -> None:
    """Mark reviewed entries stale whose sources changed or whose review aged out."""
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            marked = faq_service.check_staleness(session, settings=settings)
    finally:
        database.dispose()
    typer.echo(f"{len(marked)} entr{'y' if len(marked) == 1 else 'ies'} marked stale")
    for faq_id in marked:
        typer.echo(f"  {faq_id}")

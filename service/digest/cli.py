"""`relay digest`: the Product digest (HTML and PDF) for a period."""

from __future__ import annotations

import getpass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from service.config import get_settings
from service.db import Database
from service.digest import service as digest_service

digest_app = typer.Typer(help="The Product digest.", invoke_without_command=True)


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"


@digest_app.callback()
def digest(
    period: Annotated[Period, typer.Option(help="week (7 days) or month")] = Period.WEEK,
    end: Annotated[
        datetime | None,
        typer.Option(help="first day after the period (UTC date); default: today"),
    ] = None,
) -> None:
    """Build the digest of the period, store it (latest at /digests/latest) and its PDF."""
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        with database.read_session() as session:
            digest = digest_service.render(
                session,
                settings=settings,
                period=period.value,
                actor=f"cli:{getpass.getuser()}",
                end=end.date() if end else None,
            )
        with database.session() as session:
            digest_service.store(session, digest=digest)
        summary, pdf_path = digest.summary, digest.pdf_path
    finally:
        database.dispose()
    typer.echo(f"{summary['title']}: {digest.id}")
    typer.echo(f"PDF: {settings.data_dir / (pdf_path or '')}")
    typer.echo("Page: /digests/latest · API: GET /api/v1/digests/latest?format=html|pdf|json")

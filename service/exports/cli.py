"""`relay export`: structured feedback and themes to a file."""

from __future__ import annotations

import getpass
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from service.config import get_settings
from service.db import Database
from service.errors import RelayError
from service.exports import service as exports_service
from service.exports.schemas import ExportFormat
from service.feedback.service import FeedbackFilters
from service.structuring.taxonomy import Category, PaymentMethod, ProductArea
from service.themes.models import ThemeStatus
from service.themes.service import ThemeFilters

export_app = typer.Typer(help="Exports for Product.", no_args_is_help=True)

FormatOption = Annotated[ExportFormat, typer.Option("--format", help="csv, ndjson or json")]
OutOption = Annotated[Path, typer.Option("--out", help="file to write", dir_okay=False)]
BomOption = Annotated[bool, typer.Option("--bom", help="UTF-8 byte order mark (Excel; CSV only)")]
SinceOption = Annotated[
    str | None, typer.Option(help="only records changed after this ISO time or cursor")
]
Text = Annotated[str | None, typer.Option()]


def _one_of(value: str | None, allowed: Any, option: str) -> str | None:
    """`value` if it is one of the taxonomy ids of `allowed`, else a usage error naming `option`."""
    choices = typing.get_args(allowed)
    if value is not None and value not in choices:
        raise typer.BadParameter(
            f"{value!r} is not one of: {', '.join(choices)}", param_hint=option
        )
    return value


@export_app.command()
def feedback(
    out: OutOption,
    fmt: FormatOption = ExportFormat.CSV,
    bom: BomOption = False,
    source: Text = None,
    product_area: Text = None,
    payment_method: Text = None,
    category: Text = None,
    theme_id: Text = None,
    merchant_id: Text = None,
    since: SinceOption = None,
    until: Annotated[datetime | None, typer.Option(help="records changed before")] = None,
) -> None:
    """Write every feedback record matching the filters to OUT, with a progress bar."""
    filters = FeedbackFilters(
        source=source,
        product_area=_one_of(product_area, ProductArea, "--product-area"),
        payment_method=_one_of(payment_method, PaymentMethod, "--payment-method"),
        category=_one_of(category, Category, "--category"),
        theme_id=theme_id,
        merchant_id=merchant_id,
    )
    export = exports_service.FeedbackExport(filters=filters, since=_since(since), until=_utc(until))
    request = exports_service.ExportRequest(
        resource="feedback", fmt=fmt, bom=bom, actor=_actor(), channel="cli", feedback=export
    )
    _run(request, out)


@export_app.command()
def themes(
    out: OutOption,
    fmt: FormatOption = ExportFormat.CSV,
    bom: BomOption = False,
    product_area: Text = None,
    status: Annotated[ThemeStatus | None, typer.Option()] = None,
    category: Text = None,
    since: SinceOption = None,
) -> None:
    """Write the live themes (ranked by impact) to OUT."""
    filters = ThemeFilters(
        product_area=_one_of(product_area, ProductArea, "--product-area"),
        status=status.value if status else None,
        category=_one_of(category, Category, "--category"),
    )
    export = exports_service.ThemeExport(filters=filters, since=_since(since))
    request = exports_service.ExportRequest(
        resource="themes", fmt=fmt, bom=bom, actor=_actor(), channel="cli", themes=export
    )
    _run(request, out)


def _since(value: str | None) -> exports_service.Position | None:
    try:
        return exports_service.decode_since(value) if value else None
    except RelayError as exc:
        raise typer.BadParameter(exc.message, param_hint="--since") from exc


def _utc(value: datetime | None) -> datetime | None:
    # Typer parses times without an offset: they are UTC, like every time Relay stores.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _run(request: exports_service.ExportRequest, out: Path) -> None:
    database = Database(get_settings().database_url)
    try:
        with _progress() as progress:
            task = progress.add_task(f"{request.resource} → {out}", total=None)
            prepared = exports_service.prepare(
                database, request, progress=lambda rows: progress.advance(task, rows)
            )
            progress.update(task, total=prepared.snapshot.count)
            assert prepared.body is not None  # no If-None-Match from the command line
            _write(prepared, out)
    except RelayError as exc:
        raise typer.BadParameter(exc.message) from exc
    finally:
        database.dispose()
    next_since = prepared.snapshot.next_since(None)
    typer.echo(f"{prepared.snapshot.count} {request.resource} row(s) written to {out}")
    if next_since:
        typer.echo(f"next incremental pull: --since {next_since}")


def _write(prepared: exports_service.Prepared, out: Path) -> None:
    assert prepared.body is not None
    # Written beside OUT and renamed at the end: an interrupted export leaves no half file.
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as handle:
            for chunk in prepared.body:
                handle.write(chunk)
        partial.replace(out)
    finally:
        prepared.body.close()
        partial.unlink(missing_ok=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    )

"""`relay faq digest|quick-ref|training`: the FAQ documents for agents, written to a file.

The commands live here, not in `service/faq/cli.py`; `register(faq_app)` adds them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from service.config import get_settings
from service.db import Database
from service.faq import documents
from service.faq.documents import Printable, ProductAreaNotFound

OutOption = Annotated[Path, typer.Option("--out", help="the PDF file to write")]
AreaOption = Annotated[str, typer.Option("--area", help="a TAXONOMY product area id")]


def digest(
    out: OutOption,
    area: Annotated[
        str | None, typer.Option("--area", help="only this product area's entries")
    ] = None,
) -> None:
    """Write the FAQ digest (published entries grouped by product area)."""
    _write(out, lambda session: documents.printable_digest(session, product_area=area))


def quick_ref(area: AreaOption, out: OutOption) -> None:
    """Write a product area's one-page quick-reference card."""
    _write(out, lambda session: documents.printable_quick_reference(session, area=area))


def training(area: AreaOption, out: OutOption) -> None:
    """Write a product area's training module (basics, error patterns, checks, quiz)."""
    _write(out, lambda session: documents.printable_training(session, area=area))


def register(app: typer.Typer) -> None:
    """Add the document commands to `relay faq`."""
    app.command("digest")(digest)
    app.command("quick-ref")(quick_ref)
    app.command("training")(training)


def _write(out: Path, build: Callable[[Session], Printable]) -> None:
    database = Database(get_settings().database_url)
    try:
        with database.session() as session:
            printable = build(session)
        body = printable.pdf()
    except ProductAreaNotFound as error:
        raise typer.BadParameter(error.message, param_hint="--area") from error
    finally:
        database.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    typer.echo(f"wrote {out} ({len(body):,} bytes)")

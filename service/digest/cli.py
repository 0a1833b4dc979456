"""`relay digest`: the Product digest (HTML and PDF) for a period."""

from __future__ import annotations

import typer

digest_app = typer.Typer(help="The Product digest.", no_args_is_help=True)

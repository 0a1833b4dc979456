"""`relay export`: structured feedback and themes to a file."""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Exports for Product.", no_args_is_help=True)

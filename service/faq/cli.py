"""`relay faq`: generate, review and export technical FAQ entries."""

from __future__ import annotations

import typer

faq_app = typer.Typer(help="Technical FAQ entries.", no_args_is_help=True)

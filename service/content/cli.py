"""`relay docs`: the content library's standards, checked."""

from __future__ import annotations

import typer

docs_app = typer.Typer(
    help="The content library in briefs/ and generated FAQs.", no_args_is_help=True
)

"""`relay users …` and `relay tokens …`: manage page users and API tokens from a shell."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from service.auth import tokens, users
from service.auth.tokens import UnknownScope
from service.config import get_settings
from service.db import Database
from service.errors import RelayError

users_app = typer.Typer(help="Manage the people who sign in to the pages.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API bearer tokens.", no_args_is_help=True)

# Prompted (hidden, typed twice) when not given, so passwords stay out of shell history.
PASSWORD_OPTION = typer.Option(
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (hidden, twice) when not given.",
)


@contextmanager
def _session() -> Iterator[Session]:
    # One unit of work per command; a domain error becomes a message and exit code 1.
    database = Database(get_settings().database_url)
    try:
        with database.session() as session:
            yield session
    except (RelayError, UnknownScope) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        database.dispose()


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@users_app.command("add")
def add_user(
    email: Annotated[str, typer.Option(help="Sign-in email (stored lower-case).")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(users.ROLES)}.")],
    password: Annotated[str, PASSWORD_OPTION],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create a user; prints the new user's id."""
    with _session() as session:
        user = users.add_user(session, email=email, role=role, password=password, name=name)
        typer.echo(user.id)


@users_app.command("list")
def list_users() -> None:
    """List users: id, email, role, name, active."""
    with _session() as session:
        typer.echo("id\temail\trole\tname\tstate")
        for user in users.list_users(session):
            state = "active" if user.active else "deactivated"
            typer.echo(f"{user.id}\t{user.email}\t{user.role}\t{user.name or '-'}\t{state}")


@users_app.command("deactivate")
def deactivate_user(email: Annotated[str, typer.Option(help="The user's email.")]) -> None:
    """Stop a user from signing in (their open sessions end too)."""
    with _session() as session:
        user = users.deactivate(session, email=email)
        typer.echo(f"deactivated {user.email}")


@users_app.command("set-password")
def set_password(
    email: Annotated[str, typer.Option(help="The user's email.")],
    password: Annotated[str, PASSWORD_OPTION],
) -> None:
    """Replace a user's password (their open sessions end)."""
    with _session() as session:
        user = users.set_password(session, email=email, password=password)
        typer.echo(f"password changed for {user.email}")


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'product exports'.")],
    scope: Annotated[list[str], typer.Option(help=f"Repeatable: {', '.join(tokens.SCOPES)}.")],
) -> None:
    """Create a token and print it in clear, once (only its hash is kept)."""
    with _session() as session:
        row, clear = tokens.create_token(session, name=name, scopes=scope)
        typer.echo(f"{row.id}\t{','.join(row.scopes)}", err=True)
        typer.echo(clear)


@tokens_app.command("list")
def list_tokens() -> None:
    """List tokens: id, prefix, name, scopes, created, last used, revoked."""
    with _session() as session:
        typer.echo("id\tprefix\tname\tscopes\tcreated\tlast used\trevoked")
        for row in tokens.list_tokens(session):
            typer.echo(
                "\t".join(
                    [
                        row.id,
                        row.prefix,
                        row.name,
                        ",".join(row.scopes),
                        _when(row.created_at),
                        _when(row.last_used_at),
                        _when(row.revoked_at),
                    ]
                )
            )


@tokens_app.command("revoke")
def revoke_token(token_id: Annotated[str, typer.Argument(help="The token's id (tok_…).")]) -> None:
    """Revoke a token; calls with it are refused from now on."""
    with _session() as session:
        if not tokens.revoke(session, token_id=token_id):
            typer.echo(f"error: no active token with id {token_id}", err=True)
            raise typer.Exit(1)
        typer.echo(f"revoked {token_id}")

"""`relay users …` and `relay tokens …` against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from service.auth import passwords, tokens, users
from service.auth.cli import tokens_app, users_app
from service.config import get_settings
from service.db import Database
from tests.auth.conftest import PASSWORD

runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_database(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    """Point the CLI's settings at the (emptied) test database."""
    monkeypatch.setenv("RELAY_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def add(*args: str, password: str | None = PASSWORD, stdin: str | None = None) -> Result:
    extra = ["--password", password] if password is not None else []
    return runner.invoke(users_app, ["add", *args, *extra], input=stdin)


def test_users_add_prints_the_id_and_stores_a_hash(db: Database) -> None:
    result = add("--email", "Ana@Example.ph", "--role", "commercial", "--name", "Ana Cruz")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        user = users.get_user_by_email(session, email="ana@example.ph")
        assert user is not None and user.name == "Ana Cruz" and user.role == "commercial"
        assert result.stdout.strip() == user.id
        assert user.password_hash.startswith("$argon2id$")


def test_users_add_prompts_for_a_hidden_confirmed_password(db: Database) -> None:
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    result = add("--email", "ben@example.ph", "--role", "cs", password=None, stdin=typed)
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    with db.session() as session:
        assert users.get_user_by_email(session, email="ben@example.ph") is not None


def test_users_add_refuses_a_mismatched_confirmation(db: Database) -> None:
    typed = f"{PASSWORD}\nsomething else entirely\n"
    result = add("--email", "ben@example.ph", "--role", "cs", password=None, stdin=typed)
    assert result.exit_code != 0
    with db.session() as session:
        assert users.list_users(session) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--email", "ana@example.ph", "--role", "boss"), "unknown role 'boss'"),
        (("--email", "nope", "--role", "cs"), "is not an email address"),
    ],
)
def test_users_add_explains_bad_input(args: tuple[str, ...], message: str) -> None:
    result = add(*args)
    assert result.exit_code == 1 and message in result.stderr


def test_users_add_refuses_a_duplicate_email() -> None:
    assert add("--email", "ana@example.ph", "--role", "cs").exit_code == 0
    again = add("--email", "ANA@example.ph", "--role", "admin")
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_users_list_and_deactivate() -> None:
    add("--email", "ana@example.ph", "--role", "cs")
    assert runner.invoke(users_app, ["deactivate", "--email", "ana@example.ph"]).exit_code == 0
    listed = runner.invoke(users_app, ["list"])
    assert listed.exit_code == 0
    assert "ana@example.ph\tcs\t-\tdeactivated" in listed.stdout
    missing = runner.invoke(users_app, ["deactivate", "--email", "nobody@example.ph"])
    assert missing.exit_code == 1 and "no user with email" in missing.stderr


def test_users_set_password(db: Database) -> None:
    add("--email", "ana@example.ph", "--role", "cs")
    new = "a different long passphrase"
    args = ["set-password", "--email", "ana@example.ph", "--password", new]
    assert runner.invoke(users_app, args).exit_code == 0
    with db.session() as session:
        user = users.get_user_by_email(session, email="ana@example.ph")
        assert user is not None and passwords.verify_password(user.password_hash, new)


def test_tokens_create_prints_the_token_once_and_it_works(db: Database) -> None:
    args = [
        "create",
        "--name",
        "product exports",
        "--scope",
        "export:read",
        "--scope",
        "feedback:read",
    ]
    result = runner.invoke(tokens_app, args)
    assert result.exit_code == 0, result.output
    clear = result.stdout.strip()
    assert clear.startswith(tokens.TOKEN_PREFIX)
    with db.session() as session:
        principal = tokens.authenticate(session, token=clear)
    assert principal is not None and principal.scopes == {"export:read", "feedback:read"}


def test_tokens_create_refuses_an_unknown_scope() -> None:
    result = runner.invoke(tokens_app, ["create", "--name", "x", "--scope", "everything"])
    assert result.exit_code == 1 and "unknown scope 'everything'" in result.stderr


def test_tokens_list_and_revoke(db: Database) -> None:
    created = runner.invoke(tokens_app, ["create", "--name", "ci", "--scope", "feedback:read"])
    clear = created.stdout.strip()
    with db.session() as session:
        (row,) = [t for t in tokens.list_tokens(session) if t.name == "ci"]
    listed = runner.invoke(tokens_app, ["list"]).stdout
    assert f"{row.id}\t{clear[:8]}\tci\tfeedback:read\t" in listed
    assert clear not in listed  # only the prefix is ever shown again
    assert runner.invoke(tokens_app, ["revoke", row.id]).exit_code == 0
    line = next(x for x in runner.invoke(tokens_app, ["list"]).stdout.splitlines() if "\tci\t" in x)
    assert not line.endswith("\t-")  # the revoked column is filled
    again = runner.invoke(tokens_app, ["revoke", row.id])
    assert again.exit_code == 1 and "no active token" in again.stderr

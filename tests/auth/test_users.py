"""Users: argon2id hashes, validation, sign-in and its failed-attempt rate limiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from service.auth import passwords, users
from service.auth.errors import (
    InvalidCredentials,
    InvalidEmail,
    InvalidRole,
    PasswordTooWeak,
    TooManyAttempts,
    UserAlreadyExists,
    UserNotFound,
)
from service.auth.models import LoginAttempt, User
from service.config import Settings
from service.db import Database, utcnow
from service.errors import RelayError
from tests.auth.conftest import PASSWORD

MakeUser = Callable[..., User]


def attempt(
    db: Database,
    settings: Settings,
    *,
    email: str = "ana@example.ph",
    password: str = PASSWORD,
    client: str = "10.0.0.1",
) -> User | RelayError:
    """One sign-in, committed whatever its outcome (as the login page does)."""
    with db.session() as session:
        try:
            return users.authenticate_user(
                session, email=email, password=password, client=client, settings=settings
            )
        except (InvalidCredentials, TooManyAttempts) as exc:
            return exc


def test_password_is_stored_as_an_argon2id_hash_never_in_clear(make_user: MakeUser) -> None:
    user = make_user(password=PASSWORD)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert passwords.verify_password(user.password_hash, PASSWORD)
    assert not passwords.verify_password(user.password_hash, PASSWORD + "!")


def test_email_is_normalized_and_unique_whatever_the_case(db: Database) -> None:
    with db.session() as session:
        user = users.add_user(session, email="  Ana@Example.PH ", role="cs", password=PASSWORD)
        assert user.email == "ana@example.ph"
        with pytest.raises(UserAlreadyExists, match=r"ana@example\.ph"):
            users.add_user(session, email="ANA@example.ph", role="cs", password=PASSWORD)


@pytest.mark.parametrize(
    ("email", "role", "password", "error"),
    [
        ("ana@example.ph", "superuser", PASSWORD, InvalidRole),
        ("not-an-email", "cs", PASSWORD, InvalidEmail),
        ("ana@example.ph", "cs", "short", PasswordTooWeak),
    ],
)
def test_add_user_refuses_bad_input_clearly(
    db: Database, email: str, role: str, password: str, error: type[RelayError]
) -> None:
    with db.session() as session, pytest.raises(error) as caught:
        users.add_user(session, email=email, role=role, password=password)
    assert caught.value.status == 422 and caught.value.message


def test_list_get_set_password_and_deactivate(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    made = make_user(email="ana@example.ph")
    make_user(email="ben@example.ph", role="product")
    with db.session() as session:
        assert [u.email for u in users.list_users(session)] == ["ana@example.ph", "ben@example.ph"]
        assert users.get_user(session, user_id=made.id) is not None
        users.set_password(session, email="ANA@example.ph", password="a brand new passphrase")
        assert users.deactivate(session, email="ben@example.ph").active is False
        with pytest.raises(UserNotFound):
            users.deactivate(session, email="nobody@example.ph")
    assert isinstance(attempt(db, settings, password=PASSWORD), InvalidCredentials)
    assert isinstance(attempt(db, settings, password="a brand new passphrase"), User)
    assert isinstance(attempt(db, settings, email="ben@example.ph"), InvalidCredentials)


def test_right_password_signs_in_and_wrong_one_is_refused(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    user = make_user()
    signed = attempt(db, settings, email="ANA@example.ph")
    assert isinstance(signed, User) and signed.id == user.id
    refused = attempt(db, settings, password="wrong password!")
    assert isinstance(refused, InvalidCredentials)
    assert refused.message == "wrong email or password"


def test_unknown_and_deactivated_users_get_the_same_answer(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    make_user()
    with db.session() as session:
        users.deactivate(session, email="ana@example.ph")
    deactivated = attempt(db, settings)
    unknown = attempt(db, settings, email="nobody@example.ph")
    assert isinstance(deactivated, InvalidCredentials) and isinstance(unknown, InvalidCredentials)
    assert deactivated.message == unknown.message


def test_too_many_failures_for_an_email_block_even_the_right_password(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    make_user()
    for n in range(settings.login_max_failures):
        assert isinstance(attempt(db, settings, password="nope", client=f"10.0.0.{n}"), RelayError)
    blocked = attempt(db, settings, client="10.9.9.9")
    assert isinstance(blocked, TooManyAttempts)
    assert blocked.status == 429
    assert "try again in 15 minutes" in blocked.message
    assert 0 < blocked.details["retry_after_seconds"] <= settings.login_window_seconds


def test_too_many_failures_from_one_client_block_every_email_from_it(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    make_user()
    for n in range(settings.login_max_failures):
        attempt(db, settings, email=f"guess{n}@example.ph", client="203.0.113.7")
    assert isinstance(attempt(db, settings, client="203.0.113.7"), TooManyAttempts)
    assert isinstance(attempt(db, settings, client="198.51.100.1"), User)


def test_failures_older_than_the_window_do_not_count(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    make_user()
    old = utcnow() - timedelta(seconds=settings.login_window_seconds + 1)
    with db.session() as session:
        for _ in range(settings.login_max_failures):
            session.add(LoginAttempt(email="ana@example.ph", client="10.0.0.1", at=old))
    assert isinstance(attempt(db, settings), User)


def test_a_success_clears_the_emails_failures(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    make_user()
    for _ in range(settings.login_max_failures - 1):
        attempt(db, settings, password="nope", client="10.0.0.2")
    assert isinstance(attempt(db, settings, client="10.0.0.3"), User)
    with db.session() as session:
        left = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.email == "ana@example.ph")
        )
    assert left == 0


def test_an_old_weaker_hash_is_upgraded_at_sign_in(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    user = make_user()
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with db.session() as session:
        session.get_one(User, user.id).password_hash = weak
    attempt(db, settings)
    with db.session() as session:
        upgraded = session.get_one(User, user.id).password_hash
    assert upgraded != weak and not passwords.needs_rehash(upgraded)


def test_role_helpers(make_user: MakeUser) -> None:
    admin = make_user(email="root@example.ph", role="admin")
    cs = make_user(email="cs@example.ph", role="cs")
    assert users.can_see_all_briefs(admin) and not users.can_see_all_briefs(cs)
    assert users.has_role(cs, "cs", "product") and not users.has_role(cs, "commercial")
    assert users.has_role(admin, "commercial")

"""People who use the pages: accounts, roles, sign-in with failed-attempt rate limiting."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session

from service.auth import passwords
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
from service.db import new_id, utcnow

ROLES = ("commercial", "cs", "product", "admin")
MIN_PASSWORD_LENGTH = 12


def normalize_email(email: str) -> str:
    """The canonical form of an email address: trimmed, lower-case."""
    return email.strip().lower()


def add_user(
    session: Session, *, email: str, role: str, password: str, name: str | None = None
) -> User:
    """Create an active user with an argon2id password hash."""
    email = _checked_email(email)
    _check_role(role)
    _check_password(password)
    if get_user_by_email(session, email=email) is not None:
        raise UserAlreadyExists(f"a user with email {email} already exists")
    user = User(
        id=new_id("usr"),
        email=email,
        role=role,
        name=(name or "").strip() or None,
        password_hash=passwords.hash_password(password),
        active=True,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent add of the same email won the race
        raise UserAlreadyExists(f"a user with email {email} already exists") from exc
    return user


def get_user(session: Session, *, user_id: str) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def get_user_by_email(session: Session, *, email: str) -> User | None:
    """The user with this email (any case), or None."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def list_users(session: Session) -> list[User]:
    """Every user, oldest first."""
    return list(session.scalars(select(User).order_by(User.created_at, User.email)))


def set_password(session: Session, *, email: str, password: str) -> User:
    """Replace a user's password (this also ends their existing sessions)."""
    _check_password(password)
    user = _existing(session, email=email)
    user.password_hash = passwords.hash_password(password)
    return user


def deactivate(session: Session, *, email: str) -> User:
    """Stop a user from signing in; their current sessions stop working at once."""
    user = _existing(session, email=email)
    user.active = False
    return user


def authenticate_user(
    session: Session, *, email: str, password: str, client: str, settings: Settings
) -> User:
    """The active user for these credentials, refusing while failures exceed the limit."""
    email, client = normalize_email(email), client[:100]  # the column's width
    _check_not_locked(session, email=email, client=client, settings=settings)
    user = get_user_by_email(session, email=email)
    if user is None:
        passwords.burn_verify(password)
    if (
        user is None
        or not user.active
        or not passwords.verify_password(user.password_hash, password)
    ):
        # Recorded even for unknown emails, so guessing addresses is slowed too.
        session.add(LoginAttempt(email=email, client=client, at=utcnow()))
        raise InvalidCredentials("wrong email or password")
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def can_see_all_briefs(user: User) -> bool:
    """Admins see every brief; others see the briefs they requested."""
    return user.role == "admin"


def has_role(user: User, *roles: str) -> bool:
    """True when the user holds one of `roles` (admins hold them all)."""
    return user.role == "admin" or user.role in roles


def _check_not_locked(session: Session, *, email: str, client: str, settings: Settings) -> None:
    now = utcnow()
    window = timedelta(seconds=settings.login_window_seconds)
    unlocks = [
        _unlock_time(session, column, value, now - window, settings.login_max_failures)
        for column, value in ((LoginAttempt.email, email), (LoginAttempt.client, client))
    ]
    latest = max((t + window for t in unlocks if t is not None), default=None)
    if latest is not None and latest > now:
        minutes = max(1, math.ceil((latest - now).total_seconds() / 60))
        raise TooManyAttempts(
            f"too many failed sign-in attempts; try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}",
            details={"retry_after_seconds": math.ceil((latest - now).total_seconds())},
        )


def _unlock_time(
    session: Session, column: QueryableAttribute[str], value: str, since: datetime, limit: int
) -> datetime | None:
    # The limit-th most recent failure in the window: once it ages out of the
    # window, fewer than `limit` failures remain and sign-in is allowed again.
    query = (
        select(LoginAttempt.at)
        .where(column == value, LoginAttempt.at >= since)
        .order_by(LoginAttempt.at.desc())
        .offset(max(limit, 1) - 1)
        .limit(1)
    )
    return session.scalar(query)


def _existing(session: Session, *, email: str) -> User:
    user = get_user_by_email(session, email=email)
    if user is None:
        raise UserNotFound(f"no user with email {normalize_email(email)}")
    return user


def _checked_email(email: str) -> str:
    email = normalize_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email):
        raise InvalidEmail(f"{email!r} is not an email address")
    return email


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRole(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")

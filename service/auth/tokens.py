"""API bearer tokens: random, shown once, stored as SHA-256, scoped."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.auth.models import ApiToken
from service.db import new_id, utcnow

SCOPES = ("feedback:read", "feedback:write", "export:read", "briefs:write", "admin")
TOKEN_PREFIX = "rly_"  # noqa: S105 - a public prefix, not a secret


class UnknownScope(ValueError):
    """A scope name that Relay does not define."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token (API) or a signed-in user (pages)."""

    kind: str  # "token" | "user"
    id: str
    scopes: frozenset[str]
    user_id: str | None = None
    role: str | None = None

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_scopes(scopes: list[str]) -> list[str]:
    """The scopes, de-duplicated, or UnknownScope naming the first bad one."""
    for scope in scopes:
        if scope not in SCOPES:
            raise UnknownScope(f"unknown scope {scope!r}; known: {', '.join(SCOPES)}")
    return sorted(set(scopes))


def create_token(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    user_id: str | None = None,
    token: str | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token (or a given one, e.g. RELAY_ADMIN_TOKEN); return it in clear once."""
    clear = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=new_id("tok"),
        name=name,
        token_hash=hash_token(clear),
        prefix=clear[:8],
        scopes=validate_scopes(scopes),
        user_id=user_id,
    )
    session.add(row)
    session.flush()
    return row, clear


# `last_used_at` is refreshed at most this often, so reads don't each cost a write.
TOUCH_INTERVAL = timedelta(minutes=1)


def authenticate(session: Session, *, token: str) -> Principal | None:
    """The principal for a bearer token, or None when unknown or revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_INTERVAL:
        row.last_used_at = now
    return Principal(kind="token", id=row.id, scopes=frozenset(row.scopes), user_id=row.user_id)


def revoke(session: Session, *, token_id: str) -> bool:
    """Revoke a token by id; False when there is no such active token."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def ensure_admin_token(session: Session, *, configured: str | None) -> str | None:
    """Make sure an admin token exists; return the clear token when one was just generated.

    A configured RELAY_ADMIN_TOKEN is stored (hashed) if not already; otherwise the
    first start generates one and the caller prints it once.
    """
    if configured:
        if session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(configured))):
            return None
        create_token(session, name="admin (RELAY_ADMIN_TOKEN)", scopes=["admin"], token=configured)
        return None
    existing = session.scalar(select(ApiToken).where(ApiToken.name == "admin (generated)"))
    if existing is not None:
        return None
    _, clear = create_token(session, name="admin (generated)", scopes=["admin"])
    return clear

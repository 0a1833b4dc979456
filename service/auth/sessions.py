"""The page session: a signed cookie naming the user, a random nonce and when it was issued."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from itsdangerous import BadData, URLSafeTimedSerializer

from service.auth import users
from service.auth.models import User
from service.config import Settings
from service.deps import SessionDep, SettingsDep

COOKIE_NAME = "relay_session"
KEY_FILE = "session.key"


class LoginRequired(Exception):
    """Raised by `CurrentUser` for an unsigned visitor; answered with a 303 to /login."""

    def __init__(self, next_path: str, *, clear_cookie: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.clear_cookie = clear_cookie


@dataclass(frozen=True)
class SessionData:
    """What the cookie carries (signed, not encrypted: nothing secret goes in it)."""

    user_id: str
    nonce: str
    issued_at: int
    password_tag: str


def secret_key(settings: Settings) -> bytes:
    """The signing key: RELAY_SESSION_SECRET, else a random key kept in data_dir/session.key."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    return _key_file(Path(settings.data_dir).resolve() / KEY_FILE)


@lru_cache(maxsize=8)
def _key_file(path: Path) -> bytes:
    if not path.exists():
        _write_key_once(path)
    return path.read_bytes().strip()


def _write_key_once(path: Path) -> None:
    # Written in full to a private temp file, then linked into place: link() fails
    # if the key exists, so processes starting together all end up with one key
    # and none can read a half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_urlsafe(48).encode())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def serializer(settings: Settings, *, salt: str) -> URLSafeTimedSerializer:
    """A signer for one purpose (`salt`), keyed by the session secret."""
    return URLSafeTimedSerializer(secret_key(settings), salt=salt)


def is_https(request: Request) -> bool:
    """True when the browser reached us over HTTPS (directly or through a proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    """Set a cookie the way every Relay cookie is set: HttpOnly, SameSite=Lax, Path=/."""
    response.set_cookie(
        name, value, httponly=True, samesite="lax", path="/", secure=is_https(request), **kw
    )


def start_session(request: Request, response: Response, *, user: User, settings: Settings) -> None:
    """Sign `user` in on `response` with a fresh nonce (never reusing a pre-login one)."""
    payload = {
        "uid": user.id,
        "nonce": secrets.token_urlsafe(24),
        "iat": int(time.time()),
        "pwd": _password_tag(user, settings),
    }
    value = serializer(settings, salt="relay.session").dumps(payload)
    set_cookie(request, response, COOKIE_NAME, value, max_age=settings.session_max_age_seconds)


def end_session(request: Request, response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


def read_session(request: Request, settings: Settings) -> SessionData | None:
    """The validly signed, unexpired session in the request's cookie, or None."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        data = serializer(settings, salt="relay.session").loads(
            raw, max_age=settings.session_max_age_seconds
        )
        return SessionData(
            user_id=str(data["uid"]),
            nonce=str(data["nonce"]),
            issued_at=int(data["iat"]),
            password_tag=str(data["pwd"]),
        )
    except (BadData, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class SignedInUser:
    """Who is signed in, as pages show it."""

    id: str
    email: str
    name: str | None
    role: str


def get_optional_user(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    """The signed-in user, or None (also for a deactivated user or a changed password)."""
    data = read_session(request, settings)
    user = users.get_user(session, user_id=data.user_id) if data else None
    if data is None or user is None or not user.active:
        return None
    if not hmac.compare_digest(data.password_tag, _password_tag(user, settings)):
        return None
    # Pages read who is signed in from here, possibly after the request's transaction has
    # ended (an error page): a plain copy, not the ORM object bound to that transaction.
    request.state.user = SignedInUser(id=user.id, email=user.email, name=user.name, role=user.role)
    request.state.session_data = data
    return user


def get_current_user(
    request: Request, user: Annotated[User | None, Depends(get_optional_user)]
) -> User:
    """The signed-in user; an unsigned visitor is sent to /login and brought back after."""
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path, clear_cookie=COOKIE_NAME in request.cookies)
    return user


def _password_tag(user: User, settings: Settings) -> str:
    # Ties the cookie to the current password: set_password ends every other session.
    digest = hmac.new(secret_key(settings), user.password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]

"""CSRF tokens for every page form.

A signed-in visitor's token is an HMAC of their session nonce, so it changes with
each sign-in and needs no storage. Before sign-in (the login form) there is no
session yet, so a random `relay_csrf` cookie is set and the form carries an HMAC
of it: a signed double-submit that a cookie planted by someone else cannot pass.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response
from markupsafe import Markup

from service.auth import sessions
from service.auth.errors import CsrfFailed
from service.config import Settings
from service.deps import SettingsDep

FIELD_NAME = "csrf_token"
COOKIE_NAME = "relay_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def token_for(request: Request, settings: Settings) -> str:
    """The token this visitor's forms must carry (creating the pre-session cookie if needed)."""
    expected = _expected(request, settings)
    if expected is not None:
        return expected
    seed = getattr(request.state, "csrf_new_seed", None) or secrets.token_urlsafe(24)
    request.state.csrf_new_seed = seed  # set on the response by `attach_cookie`
    return _mac(settings, "login", seed)


def attach_cookie(request: Request, response: Response) -> None:
    """Send the pre-session cookie if `token_for` had to create one for this request."""
    seed = getattr(request.state, "csrf_new_seed", None)
    if seed:
        sessions.set_cookie(request, response, COOKIE_NAME, seed)


def hidden_field(token: str) -> Markup:
    """The `<input type=hidden>` that carries `token` in a form (format() escapes it)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD_NAME, token)


async def check_csrf(request: Request, settings: SettingsDep) -> None:
    """Refuse (403) an unsafe request whose form lacks the right `csrf_token`."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()  # Starlette caches it, so the route's Form() fields still work
    sent = form.get(FIELD_NAME)
    expected = _expected(request, settings)
    valid = isinstance(sent, str) and expected is not None
    if not valid or not hmac.compare_digest(str(sent).encode(), str(expected).encode()):
        raise CsrfFailed("this form has expired or was not sent from Relay; reload it and retry")


def _expected(request: Request, settings: Settings) -> str | None:
    # Never invents a seed: a POST that comes without the cookie must fail.
    data = sessions.read_session(request, settings)
    if data is not None:
        return _mac(settings, "session", data.nonce)
    seed = request.cookies.get(COOKIE_NAME)
    return _mac(settings, "login", seed) if seed else None


def _mac(settings: Settings, purpose: str, value: str) -> str:
    message = f"relay.csrf.{purpose}:{value}".encode()
    return hmac.new(sessions.secret_key(settings), message, hashlib.sha256).hexdigest()


CsrfProtected = Annotated[None, Depends(check_csrf)]

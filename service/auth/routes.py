"""Sign-in pages: the login form, sign-out and the signed-in home page."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from service.auth import sessions, users
from service.auth.csrf import CsrfProtected
from service.auth.errors import CsrfFailed, InvalidCredentials, TooManyAttempts
from service.auth.sessions import CurrentUser, LoginRequired, OptionalUser
from service.deps import SessionDep, SettingsDep
from service.render.pages import NAV, flash, install_static, redirect, render_error, render_page

router = APIRouter(tags=["pages"], include_in_schema=False)
log = logging.getLogger("relay.auth")


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this site, else "/" (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    # Browsers read "\" as "/" and drop tabs and newlines, so "/\evil" or
    # "/\t/evil" would leave the site.
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "/"
    return value


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


@router.get("/login")
def login_form(
    request: Request, user: OptionalUser, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """The sign-in form (a signed-in visitor goes straight on)."""
    if user is not None:
        return redirect(request, safe_next(next_path))
    return _login_page(request, next_path=next_path)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the credentials; on success set the session cookie and go to `next`."""
    if not email.strip() or not password:
        return _login_page(
            request,
            next_path=next_path,
            email=email,
            status=400,
            error="Enter your email and password.",
        )
    try:
        user = users.authenticate_user(
            session,
            email=email,
            password=password,
            client=client_address(request),
            settings=settings,
        )
    except (InvalidCredentials, TooManyAttempts) as exc:
        log.warning(
            "sign-in refused", extra={"reason": exc.code, "client": client_address(request)}
        )
        # Returned, not raised: the failed attempt must be committed with the request.
        return _login_refused(request, exc, next_path=next_path, email=email)
    response = redirect(request, safe_next(next_path))
    sessions.start_session(request, response, user=user, settings=settings)
    return response


@router.post("/logout")
def logout(request: Request, _csrf: CsrfProtected) -> RedirectResponse:
    """Sign out: remove the session cookie and go back to the login form."""
    flash(request, "You are signed out.", level="success")
    response = redirect(request, "/login")
    sessions.end_session(request, response)
    return response


@router.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    """The signed-in home page: who you are and where to go."""
    return render_page(request, "home.html", {"links": NAV})


def install_page_handlers(app: FastAPI) -> None:
    """Answer LoginRequired with a redirect to /login and CsrfFailed with a page; serve /static."""
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    install_static(app)


def _login_page(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {"next": safe_next(next_path), "email": email.strip(), "error": error}
    return render_page(request, "login.html", context, status=status)


def _login_refused(
    request: Request, exc: InvalidCredentials | TooManyAttempts, *, next_path: str, email: str
) -> Response:
    response = _login_page(
        request, next_path=next_path, email=email, error=_sentence(exc.message), status=exc.status
    )
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.details["retry_after_seconds"])
    return response


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    response = RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)
    if exc.clear_cookie:  # a stale or revoked cookie: take it off the browser
        sessions.end_session(request, response)
    return response


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfFailed)
    return render_error(
        request, status=exc.status, title="Form expired", message=_sentence(exc.message)
    )


def _sentence(message: str) -> str:
    # Service errors are API-style fragments ("wrong email or password"); pages show sentences.
    return message[:1].upper() + message[1:] + "."

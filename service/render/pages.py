"""The one Jinja2 environment for HTML pages, and helpers that answer with a page or a redirect."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadData, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.auth import csrf, sessions
from service.config import REPO_ROOT, Settings
from service.deps import get_settings_dep

TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = TEMPLATES_DIR / "static"
FLASH_COOKIE = "relay_flash"
FLASH_MAX_AGE_SECONDS = 300

# Pages hold customer data and forms: never framed, cached, or posted elsewhere.
# No inline scripts or styles either: everything comes from /static.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavLink:
    """One entry of the main navigation (also listed on the home page)."""

    label: str
    href: str
    description: str


@dataclass(frozen=True)
class Flash:
    """A one-time message shown on the next page (level: info, success or error)."""

    level: str
    text: str


# Only pages that exist: the brief form (/briefs/new, /briefs) and the FAQ review pages
# (/faqs) add their links here when they land.
NAV = (
    NavLink("Themes", "/themes", "Recurring merchant problems, ranked by impact."),
    NavLink("FAQs", "/faqs", "Technical FAQ entries to review, approve and publish."),
    NavLink("Briefs", "/briefs", "Solution briefs for merchants, as PDFs."),
    NavLink("New brief", "/briefs/new", "Request a solution brief for a merchant."),
    NavLink("Digest", "/digests/latest", "The Product digest: what breaks, what's unclear."),
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment for pages: autoescaped, and strict about missing variables."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render template `name` with `context` plus request, user, csrf_token, flashes and nav."""
    settings = get_settings_dep(request)
    token = csrf.token_for(request, settings)
    shared = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_token": token,
        "csrf_field": csrf.hidden_field(token),
        "flashes": _take_flashes(request, settings),
        "nav": NAV,
    }
    html = environment().get_template(name).render({**(context or {}), **shared})
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    csrf.attach_cookie(request, response)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def render_error(request: Request, *, status: int, title: str, message: str) -> HTMLResponse:
    """The shared error page."""
    return render_page(request, "error.html", {"title": title, "message": message}, status)


def flash(request: Request, text: str, *, level: str = "info") -> None:
    """Queue a message for the page rendered next (this request's, or after a redirect)."""
    pending: list[Flash] = getattr(request.state, "flashes", [])
    request.state.flashes = [*pending, Flash(level=level, text=text)]


def redirect(request: Request, url: str, *, status: int = 303) -> RedirectResponse:
    """A redirect (303: the browser follows with GET) that carries queued flash messages."""
    response = RedirectResponse(url, status_code=status)
    pending: list[Flash] = getattr(request.state, "flashes", [])
    if pending:
        value = _flash_signer(get_settings_dep(request)).dumps([asdict(f) for f in pending])
        sessions.set_cookie(request, response, FLASH_COOKIE, value, max_age=FLASH_MAX_AGE_SECONDS)
    return response


def install_static(app: FastAPI) -> None:
    """Serve `templates/static/` at /static (CSS, images, fonts)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _take_flashes(request: Request, settings: Settings) -> list[Flash]:
    pending: list[Flash] = getattr(request.state, "flashes", [])
    request.state.flashes = []
    return [*_incoming_flashes(request, settings), *pending]


def _incoming_flashes(request: Request, settings: Settings) -> list[Flash]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = _flash_signer(settings).loads(raw, max_age=FLASH_MAX_AGE_SECONDS)
        return [Flash(level=str(i["level"]), text=str(i["text"])) for i in items]
    except (BadData, KeyError, TypeError):
        return []


def _flash_signer(settings: Settings) -> URLSafeTimedSerializer:
    # Signed so that nobody can plant a convincing message in a colleague's browser.
    return sessions.serializer(settings, salt="relay.flash")

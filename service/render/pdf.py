"""PDF rendering: print templates (Jinja2) converted by WeasyPrint, with no network access.

Everything a PDF may load (stylesheets, fonts, images) lives under `templates/`. The URL
fetcher serves only `file://` URLs that resolve inside that folder; any other URL — http(s),
`file://` elsewhere (even through `..` or a symlink), `data:`, anything that could redirect —
is refused and logged, so text a merchant typed (`<img src="file:///etc/passwd">`, an internal
URL) can neither be fetched nor end up in a document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.config import REPO_ROOT

TEMPLATES_DIR = (REPO_ROOT / "templates").resolve()
# Relative URLs in print templates (`print/print.css`, `fonts/...`) resolve against this.
BASE_URL = TEMPLATES_DIR.as_uri() + "/"


@dataclass(frozen=True)
class PdfMetadata:
    """What the PDF's information dictionary says (created: now when not given)."""

    title: str
    author: str
    subject: str = ""
    created: datetime | None = None


@lru_cache(maxsize=1)
def print_environment() -> Environment:
    """The Jinja2 environment for print templates: autoescaped, strict about missing values."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(template_name: str, context: Mapping[str, Any]) -> str:
    """The print template `templates/<template_name>` rendered with `context`."""
    return print_environment().get_template(template_name).render(dict(context))


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


def html_to_pdf(html: str, *, metadata: PdfMetadata) -> bytes:
    """Convert print HTML to PDF bytes, loading only bundled assets, with `metadata`."""
    return render_document(html, metadata=metadata).data


def render_document(html: str, *, metadata: PdfMetadata) -> RenderedPdf:
    """`html_to_pdf`, also telling how many pages the PDF has."""
    # WeasyPrint (and Pango behind it) is imported on the first render, not at start: most
    # processes (the API serving JSON, exports) never render a PDF and need not carry it.
    from service.render import weasy

    data, pages = weasy.convert(html, base_url=BASE_URL, metadata=metadata)
    return RenderedPdf(data, pages)


def render_pdf(template_name: str, context: Mapping[str, Any], *, metadata: PdfMetadata) -> bytes:
    """Render print template `template_name` with `context` and convert it to PDF."""
    return html_to_pdf(render_html(template_name, context), metadata=metadata)

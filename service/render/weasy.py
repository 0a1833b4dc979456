"""WeasyPrint behind `service.render.pdf`: the conversion and its locked-down URL fetcher.

Kept apart so that WeasyPrint is loaded only by a process that renders a PDF (see
`pdf.render_document`). The fetcher serves only `file://` URLs that resolve inside the
bundled templates; any other URL — http(s), `file://` elsewhere (even through `..` or a
symlink), `data:`, anything that could redirect — is refused and logged.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from service.render.pdf import TEMPLATES_DIR, PdfMetadata

log = logging.getLogger("relay.render")

# Bundled assets only; anything else has no business in a PDF.
_CONTENT_TYPES = {
    ".css": "text/css",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}

# Pango/Fontconfig objects are not thread-safe: one render at a time per process.
_RENDER_LOCK = threading.Lock()


class FetchRefused(ValueError):
    """A PDF asked for a URL outside the bundled templates."""


class BundledAssetFetcher(URLFetcher):  # type: ignore[misc]
    """Serves files under `root` and refuses every other URL (logged, never fetched)."""

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        # No redirects and no protocol but file: even if a code path reached urllib.
        super().__init__(allowed_protocols={"file"}, allow_redirects=False, timeout=1)
        self.root = root.resolve()

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        path = self.resolve(url)
        content_type = _CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )

    def resolve(self, url: str) -> Path:
        """The bundled file `url` names, or FetchRefused (logged) when it names anything else."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            raise self._refuse(url, "only bundled files may be loaded")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root):
            raise self._refuse(url, "outside the bundled templates")
        if not path.is_file() or path.suffix.lower() not in _CONTENT_TYPES:
            raise self._refuse(url, "not a bundled asset")
        return path

    def _refuse(self, url: str, reason: str) -> FetchRefused:
        # Data URLs can be large and carry content; the scheme is enough to investigate.
        shown = url if not url.lower().startswith("data:") else url[:32] + "..."
        log.warning("pdf fetch refused", extra={"url": shown, "reason": reason})
        return FetchRefused(f"refused {shown!r}: {reason}")


@lru_cache(maxsize=1)
def font_configuration() -> FontConfiguration:
    """One FontConfiguration per process: @font-face files are loaded once, then reused."""
    return FontConfiguration()


def convert(html: str, *, base_url: str, metadata: PdfMetadata) -> tuple[bytes, int]:
    """PDF bytes of print HTML, loading only bundled assets, and the number of pages."""
    fetcher = BundledAssetFetcher()
    with _RENDER_LOCK:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
            font_config=font_configuration()
        )
        _apply_metadata(document.metadata, metadata)
        pdf: bytes = document.write_pdf()
    return pdf, len(document.pages)


def _apply_metadata(target: Any, metadata: PdfMetadata) -> None:
    # Set on the rendered document rather than via <meta> tags so templates cannot disagree.
    created = (metadata.created or datetime.now(UTC)).astimezone(UTC)
    target.title = metadata.title
    target.authors = [metadata.author]
    target.description = metadata.subject or None
    target.created = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    target.modified = target.created
    target.generator = "Relay"

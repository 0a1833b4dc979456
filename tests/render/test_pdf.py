"""The shared PDF renderer: real WeasyPrint output read back with pypdf, and a URL fetcher
that serves bundled assets only (checked against a real loopback server that must stay idle)."""

from __future__ import annotations

import io
import logging
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pypdf
import pytest
from jinja2 import UndefinedError

from service.render.pdf import TEMPLATES_DIR, PdfMetadata, html_to_pdf, render_html, render_pdf
from service.render.weasy import BundledAssetFetcher, FetchRefused, font_configuration

METADATA = PdfMetadata(
    title="Brief for Sari-Sari Co.",
    author="Relay",
    subject="Solution brief",
    created=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
)


def example_context(**overrides: Any) -> dict[str, Any]:
    sections = [
        {"anchor": f"s{i}", "label": f"Section {i}", "body": "Lorem ipsum dolor. " * 80}
        for i in range(1, 4)
    ]
    return {
        "title": "Sari-Sari Co.",
        "subtitle": "Example",
        "footer": "example",
        "sections": sections,
        **overrides,
    }


def read(pdf: bytes) -> pypdf.PdfReader:
    assert pdf.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in read(pdf).pages)


def images_in(pdf: bytes) -> list[str]:
    return [
        name
        for page in read(pdf).pages
        for name, xobject in page["/Resources"].get("/XObject", {}).items()
        if xobject.get_object().get("/Subtype") == "/Image"
    ]


class Recorder(BaseHTTPRequestHandler):
    """Counts every request; redirects /redirect to a local file."""

    requests: list[str]

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        body = b"\x89PNG\r\n\x1a\n"
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_pdf_has_cover_toc_page_numbers_and_bundled_fonts() -> None:
    pdf = render_pdf("print/example.html", example_context(), metadata=METADATA)
    reader = read(pdf)
    assert len(reader.pages) == 5  # cover, contents, three sections each on a new page
    cover, contents, first = (reader.pages[i].extract_text() for i in range(3))
    assert "Sari-Sari Co." in cover and "Page" not in cover  # the cover has no page number
    assert "Contents" in contents
    assert "Section 1" in contents and "3" in contents  # target-counter gives the page
    assert "Page 3 of 5" in first
    assert "Relay · example" in first  # running footer
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"].get("/Font", {}).values()
    }
    assert any("Relay-Sans" in font for font in fonts), fonts


def test_metadata_is_written() -> None:
    metadata = read(render_pdf("print/example.html", example_context(), metadata=METADATA)).metadata
    assert metadata is not None
    assert metadata.title == "Brief for Sari-Sari Co."
    assert metadata.author == "Relay"
    assert metadata.subject == "Solution brief"
    assert metadata.creation_date == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_created_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    pdf = render_pdf(
        "print/example.html", example_context(), metadata=PdfMetadata(title="T", author="A")
    )
    metadata = read(pdf).metadata
    assert metadata is not None and metadata.creation_date is not None
    assert metadata.creation_date >= before
    assert metadata.subject is None


def test_templates_autoescape_and_are_strict() -> None:
    html = render_html("print/example.html", example_context(title="<script>x</script>"))
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    with pytest.raises(UndefinedError):
        render_html("print/example.html", {"title": "missing the rest"})


def test_font_configuration_is_reused() -> None:
    assert font_configuration() is font_configuration()


def test_fetcher_serves_bundled_assets_only(tmp_path: Path) -> None:
    fetcher = BundledAssetFetcher()
    css = fetcher.fetch((TEMPLATES_DIR / "print" / "print.css").as_uri())
    assert css.content_type == "text/css"
    font = fetcher.fetch((TEMPLATES_DIR / "fonts" / "DejaVuSans.ttf").as_uri())
    assert font.read(4) == b"\x00\x01\x00\x00"
    outside = tmp_path / "secret.css"
    outside.write_text("body {}")
    refused = [
        "file:///etc/passwd",
        f"{TEMPLATES_DIR.as_uri()}/../pyproject.toml",
        f"{TEMPLATES_DIR.as_uri()}/print/base.html",  # inside, but not an asset
        outside.as_uri(),
        "data:text/css,body{}",
        "http://127.0.0.1/",
        "ftp://example.com/x.css",
        "file://otherhost/work/main/templates/print/print.css",
    ]
    for url in refused:
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)


def test_fetcher_resolves_symlinks_before_deciding(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    root.mkdir()
    (root / "inside.css").write_text("p {}")
    outside = tmp_path / "outside.css"
    outside.write_text("p {}")
    (root / "link.css").symlink_to(outside)
    fetcher = BundledAssetFetcher(root)
    assert fetcher.fetch((root / "inside.css").as_uri()).read() == b"p {}"
    with pytest.raises(FetchRefused):
        fetcher.fetch((root / "link.css").as_uri())


def test_user_supplied_urls_are_neither_fetched_nor_rendered(
    loopback: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    base, requests = loopback
    body = (
        f'<p>before</p><img src="file:///etc/passwd"><img src="{base}/image.png">'
        f'<img src="{base}/redirect"><link rel="stylesheet" href="{base}/x.css">'
        f'<style>@import url("{base}/imported.css"); p {{ background: url("{base}/bg.png") }}'
        "</style><iframe src='file:///etc/passwd'></iframe>"
        '<object data="file:///etc/passwd"></object><p>after</p>'
    )
    head = '<link rel="stylesheet" href="print/print.css">'
    html = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    with caplog.at_level(logging.WARNING, logger="relay.render"):
        pdf = html_to_pdf(html, metadata=METADATA)
    assert requests == []  # the loopback server received nothing at all
    text = text_of(pdf)
    assert "before" in text and "after" in text
    assert "root:" not in text
    assert images_in(pdf) == []  # nothing was drawn in place of the refused URLs
    refused = [r.url for r in caplog.records if r.getMessage() == "pdf fetch refused"]  # type: ignore[attr-defined]
    assert "file:///etc/passwd" in refused
    assert f"{base}/image.png" in refused and f"{base}/redirect" in refused


def test_form_input_with_markup_is_escaped_not_fetched(loopback: tuple[str, list[str]]) -> None:
    base, requests = loopback
    hostile = f'<img src="file:///etc/passwd"><img src="{base}/internal">'
    pdf = render_pdf("print/example.html", example_context(title=hostile), metadata=METADATA)
    assert requests == []
    text = text_of(pdf)
    assert '<img src="file:///etc/passwd">' in text.replace("\n", "")  # shown as text
    assert "root:" not in text
    assert images_in(pdf) == []


def test_bundled_images_are_drawn() -> None:
    """The counterpart of the refusals above: the fetcher does serve what is bundled."""
    # A unique name: other test runs may share this checkout.
    png = TEMPLATES_DIR / "print" / f"test-pixel-{uuid.uuid4().hex}.png"
    png.write_bytes(one_pixel_png())
    try:
        pdf = html_to_pdf(
            f'<!doctype html><html><body><img src="print/{png.name}"></body></html>',
            metadata=METADATA,
        )
    finally:
        png.unlink()
    assert len(images_in(pdf)) == 1


def one_pixel_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )

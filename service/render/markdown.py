"""Markdown from the content library and FAQ entries as safe HTML, for pages and PDFs."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup


def _markdown() -> MarkdownIt:
    # No raw HTML and no images: library text becomes markup we wrote, nothing to fetch.
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


_MD = _markdown()


def to_html(markdown: str) -> Markup:
    """Markdown from the library (or a FAQ) as safe HTML: escaped, web links only."""
    tokens = _MD.parse(markdown)
    for token in tokens:
        if token.children:
            token.children = _without_local_links(token.children)
    return Markup(_MD.renderer.render(tokens, _MD.options, {}))  # noqa: S704 - escaped by markdown-it


def inline_html(markdown: str) -> Markup:
    """One line of Markdown (a checklist item) as inline HTML."""
    return Markup(_MD.renderInline(markdown))  # noqa: S704 - escaped by markdown-it


def _without_local_links(children: list[Token]) -> list[Token]:
    """Drop link markup whose target is not a web page (keep the text): links between
    library files mean nothing in a PDF sent to a merchant."""
    kept: list[Token] = []
    dropping: list[bool] = []
    for child in children:
        if child.type == "link_open":
            href = str(child.attrGet("href") or "")
            dropping.append(not href.startswith(("https://", "http://", "mailto:")))
            if dropping[-1]:
                continue
        elif child.type == "link_close" and dropping and dropping.pop():
            continue
        kept.append(child)
    return kept

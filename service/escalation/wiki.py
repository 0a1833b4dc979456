"""Jira wiki markup: escaping of user-derived text, and the plain-text Jinja environment.

The escalation package is Jira wiki markup (what REST v2 renders), not HTML, so HTML
autoescaping would be wrong. This environment escapes for wiki markup instead: every
`{{ ... }}` output is escaped unless it is a `Wiki` value built by a filter here
(`code`, `link`), so a merchant's text can never add a macro, link, image, table cell
or emphasis to the issue. The pages keep their own autoescaped environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.render.pages import TEMPLATES_DIR

ESCALATION_TEMPLATES = TEMPLATES_DIR / "escalation"

# One pass over the text: a backslash becomes an entity (`\\` would be a line break);
# macros {…}, links […], table cells |, images !…! and numbered lists # are always escaped;
# emphasis and friends only act at word edges, so "pay-mongo" and "pi_3Kx" stay readable.
_MARKUP = re.compile(r"\\|[{}\[\]|!#]|(?<![A-Za-z0-9])[*_\-+^~?]|[*_\-+^~?](?![A-Za-z0-9])")
_HEADING = re.compile(r"^(\s*)(h[1-6]\.|bq\.)", re.MULTILINE)
_SAFE_URL = re.compile(r"https?://[^\s\[\]|{}!<>\"']+")


class Wiki(str):
    """Text that is already wiki markup (built here); output as is."""


def escape(value: object) -> str:
    """`value` as literal text in Jira wiki markup (backslash escapes, one line per line)."""
    text = _MARKUP.sub(_escaped, str(value))
    return _HEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group(0)
    return "&#92;" if char == "\\" else "\\" + char


def one_line(value: object, limit: int = 300) -> str:
    """Collapse whitespace (a line break could start a heading or list) and cut at `limit`."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def code(value: object) -> Wiki:
    """`{{value}}`: monospace for ids and codes, escaped inside."""
    return Wiki("{{" + escape(one_line(value, 120)) + "}}")


def codes(values: Iterable[object]) -> Wiki:
    """Comma-separated `{{value}}`s."""
    return Wiki(", ".join(code(value) for value in values))


def link(text: object, url: str | None) -> Wiki:
    """`[text|url]` when the URL is a plain http(s) URL, else the escaped text alone."""
    label = escape(one_line(text, 120))
    if url and _SAFE_URL.fullmatch(url):
        return Wiki(f"[{label}|{url}]")
    return Wiki(label)


def _finalize(value: Any) -> Any:
    if isinstance(value, Wiki):
        return value
    return escape(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Plain-text Jinja for Jira wiki markup: escaping by `finalize`, strict about names."""
    env = Environment(
        loader=FileSystemLoader(ESCALATION_TEMPLATES),
        autoescape=False,  # noqa: S701 - wiki markup, not HTML: escaped by _finalize
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(code=code, codes=codes, link=link, one_line=one_line)
    return env


def render(name: str, context: dict[str, Any]) -> str:
    """Render template `name` of templates/escalation/ with `context`."""
    return environment().get_template(name).render(context)

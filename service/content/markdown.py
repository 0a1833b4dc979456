"""Rules over a Markdown body: sections, failure codes, checklists, links, JSON, prose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

from service.content import prose
from service.content.findings import Finding, Scope, Standards

REQUIRED_SECTIONS: dict[str, tuple[str, ...]] = {
    "payment_method": (
        "What it is",
        "How the payment flows",
        "Limits",
        "Refunds",
        "Common failures",
        "Testing",
    ),
    "integration": (
        "When to choose it",
        "How it works",
        "Steps",
        "Webhooks",
        "Limitations",
        "Testing",
    ),
    "checklist": ("Checklist",),
    "faq": ("Symptoms", "Cause", "Resolution", "Related"),
}
_CONTENT = {
    "paragraph_open",
    "bullet_list_open",
    "ordered_list_open",
    "fence",
    "code_block",
    "table_open",
    "blockquote_open",
    "html_block",
}
_TASK = re.compile(r"^\s*[-*+] \[ \] \S")
_TICKED = re.compile(r"^\s*[-*+] \[[xX]\]")
_EXTERNAL = ("http", "https", "mailto")
_PARSER = MarkdownIt("commonmark").enable("table")


@dataclass
class Section:
    """A `## ` heading and the block tokens under it (title "" before the first heading)."""

    title: str
    line: int  # body line (0-based) of the heading
    tokens: list[Token] = field(default_factory=list)

    def has_content(self) -> bool:
        return any(token.type in _CONTENT for token in self.tokens)


@dataclass(frozen=True)
class Body:
    label: str
    lines: list[str]
    first_line: int  # file line of body line 0
    sections: list[Section]

    def at(self, token: Token, text: str = "", offset: int = 0) -> int:
        """The file line of `offset` into `text`, which starts on `token`'s first line."""
        start = token.map[0] if token.map else 0
        return self.first_line + start + text[:offset].count("\n")

    def finding(self, line: int, rule: str, message: str) -> Finding:
        return Finding(self.label, line, rule, message)


def markdown_findings(
    label: str,
    text: str,
    first_line: int,
    kind: str | None,
    base: Path,
    scope: Scope,
    standards: Standards,
) -> list[Finding]:
    """Every body finding of one document of `kind`; links resolve from `base`."""
    body = Body(label, text.split("\n"), first_line, _sections(_PARSER.parse(text)))
    found = [*sections(body, kind), *links(body, base, scope), *json_blocks(body)]
    found += [*prose_rules(body, standards), *code_amounts(body)]
    if kind == "payment_method":
        found += failure_codes(body, scope)
    if kind == "checklist":
        found += checklist(body)
    return found


def _sections(tokens: list[Token]) -> list[Section]:
    found = [Section("", 0)]
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2" and token.level == 0:
            line = token.map[0] if token.map else 0
            found.append(Section(tokens[index + 1].content.strip(), line))
        found[-1].tokens.append(token)
    return found


def sections(body: Body, kind: str | None) -> Iterator[Finding]:
    """The level-2 sections the kind requires: present, once, and not empty."""
    required = REQUIRED_SECTIONS.get(kind or "", ())
    by_title: dict[str, list[Section]] = {}
    for section in body.sections[1:]:
        by_title.setdefault(section.title.lower(), []).append(section)
    for title in required:
        found = by_title.get(title.lower(), [])
        if not found:
            need = ", ".join(required)
            message = f"missing required section '## {title}' ({kind} documents need: {need})"
            yield body.finding(body.first_line, "sections", message)
        for extra in found[1:]:
            yield body.finding(body.first_line + extra.line, "sections", f"'## {title}' twice")
        if found and not found[0].has_content():
            yield body.finding(
                body.first_line + found[0].line, "sections", f"'## {title}' is empty"
            )


def _section(body: Body, title: str) -> Section | None:
    return next((s for s in body.sections[1:] if s.title.lower() == title.lower()), None)


def failure_codes(body: Body, scope: Scope) -> Iterator[Finding]:
    """'## Common failures' lists codes, each in backticks and defined in errors.yaml."""
    section = _section(body, "Common failures")
    if section is None:
        return  # the sections rule reports it
    tokens = section.tokens
    items = [i for i, t in enumerate(tokens) if t.type == "list_item_open" and t.level == 1]
    if not items:
        message = "list the codes as '- `code`: what it means', one item each"
        yield body.finding(body.first_line + section.line, "failure-codes", message)
    for index in items:
        item, inline = tokens[index], tokens[index + 2]  # list_item_open, paragraph_open, inline
        code = next((c.content for c in inline.children or [] if c.type == "code_inline"), None)
        if code is None:
            message = "item names no code in backticks: start it with the code, e.g. `CLOSED`"
            yield body.finding(body.at(item), "failure-codes", message)
        elif code not in scope.codes:
            message = f"`{code}` is not in errors.yaml; add it there first or fix the spelling"
            yield body.finding(body.at(item), "failure-codes", message)


def checklist(body: Body) -> Iterator[Finding]:
    """'## Checklist' holds unticked task items ('- [ ] do this')."""
    section = _section(body, "Checklist")
    if section is None:
        return
    items = [t for t in section.tokens if t.type == "list_item_open"]
    if not items:
        message = "no items: write each step as '- [ ] …'"
        yield body.finding(body.first_line + section.line, "checklist", message)
    for item in items:
        raw = body.lines[item.map[0]] if item.map else ""
        if _TICKED.match(raw):
            yield body.finding(body.at(item), "checklist", "ticked item: ship the list unticked")
        elif not _TASK.match(raw):
            message = "item is not a task: write it as '- [ ] …'"
            yield body.finding(body.at(item), "checklist", message)


def _inlines(body: Body) -> Iterator[tuple[Token, bool]]:
    """Every inline token with whether it is a heading."""
    for section in body.sections:
        for index, token in enumerate(section.tokens):
            if token.type == "inline":
                heading = index > 0 and section.tokens[index - 1].type == "heading_open"
                yield token, heading


def links(body: Body, base: Path, scope: Scope) -> Iterator[Finding]:
    """Relative links name existing library files; `relay:<id>` names a document."""
    for inline, _ in _inlines(body):
        for child in inline.children or []:
            target = child.attrGet("href") if child.type == "link_open" else child.attrGet("src")
            if child.type not in ("link_open", "image") or not isinstance(target, str):
                continue
            problem = _link_problem(target, base, scope)
            if problem:
                offset = max(inline.content.find(target), 0)
                yield body.finding(body.at(inline, inline.content, offset), "dead-link", problem)


def _link_problem(target: str, base: Path, scope: Scope) -> str | None:
    parts = urlsplit(target)
    if parts.scheme == "relay":
        document_id = parts.path
        return None if document_id in scope.ids else f"relay:{document_id} names no document"
    if parts.scheme in _EXTERNAL or (not parts.scheme and not parts.path):
        return None  # web pages are not fetched; a bare #anchor stays in the document
    if parts.scheme:
        return f"link {target!r}: use a relative path or relay:<document id>"
    resolved = (base / parts.path).resolve()
    root = scope.root.resolve()
    if not resolved.is_file() or not resolved.is_relative_to(root):
        return f"dead link {target!r}: no such file in the library"
    return None


def json_blocks(body: Body) -> Iterator[Finding]:
    """A fenced block whose info string says json must parse as JSON."""
    for section in body.sections:
        for token in section.tokens:
            if token.type != "fence" or token.info.strip().split(" ")[0].lower() != "json":
                continue
            try:
                json.loads(token.content)
            except json.JSONDecodeError as exc:
                line = body.at(token) + exc.lineno
                message = f"block marked json does not parse: {exc.msg} (column {exc.colno})"
                yield body.finding(line, "json", message)


def prose_rules(body: Body, standards: Standards) -> Iterator[Finding]:
    """Tone, person, sentence length and amount units in every block of prose."""
    for inline, heading in _inlines(body):
        text = prose.mask(inline.content)
        hits = [
            *(("banned-word", hit) for hit in prose.banned_words(text)),
            *(("person", hit) for hit in prose.person(text)),
            *(("amount-unit", hit) for hit in prose.unitless_amounts(text)),
        ]
        if not heading:
            long = prose.long_sentences(text, standards.max_sentence_words)
            hits += [("sentence-length", hit) for hit in long]
        for rule, (offset, message) in hits:
            yield body.finding(body.at(inline, text, offset), rule, message)


def code_amounts(body: Body) -> Iterator[Finding]:
    """An `amount` in code is an integer, and its section's prose says it is in centavos."""
    for section in body.sections:
        said = any(
            "centavo" in prose.mask(token.content).lower()
            for token in section.tokens
            if token.type == "inline"
        )
        for token in section.tokens:
            if token.type not in ("fence", "code_block"):
                continue
            for offset, value, integer in prose.code_amounts(token.content):
                line = body.at(token) + offset + (1 if token.type == "fence" else 0)
                if not integer:
                    message = f"amount {value} in code: amounts are whole centavos (integers)"
                    yield body.finding(line, "amount-unit", message)
                elif not said:
                    message = (
                        f"code sets amount {value} but this section never says the unit; "
                        "say in its prose that amounts are in centavos"
                    )
                    yield body.finding(line, "amount-unit", message)

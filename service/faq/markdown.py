"""FAQ entries as Markdown documents (front matter + sections) and as Help Center HTML.

The document follows the content library's format (`briefs/`), with `kind: faq`, so the
content lint (`relay docs lint`) checks generated entries like hand-written ones.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

from service.faq.generation import Draft

OWNER = "Customer Success — Technical FAQ"
REPLY_INTRO = "This answer solved the most tickets about this problem:"
# `relay:` links name library documents; outside Relay they become their plain title.
RELAY_LINK = re.compile(r"\[([^\]]+)\]\(relay:[^)\s]+\)")


@dataclass(frozen=True)
class MarkdownDoc:
    """What front matter needs beside the text of a version."""

    id: str
    question: str
    body: str
    status: str
    reviewed_at: dt.date
    applies_to: tuple[str, ...]
    version: int
    theme_id: str | None


def body_of(draft: Draft) -> str:
    """The sections of a draft as Markdown (no front matter, no title heading)."""
    parts = ["## Symptoms", _bullets(draft.symptoms), "## Cause", draft.cause, "## Resolution"]
    if draft.steps:
        parts.append(_numbered(draft.steps))
    if draft.solved_reply:
        parts += [REPLY_INTRO, _quoted(draft.solved_reply)]
    if draft.known_limitation:
        parts += ["## Known limitation", draft.known_limitation]
    links = [f"- [{title}]({href})" for title, href in draft.related]
    parts += ["## Related", "\n".join(links) or "- [PayMongo docs](https://docs.paymongo.com)"]
    return "\n\n".join(parts) + "\n"


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _numbered(items: Sequence[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1))


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def document(doc: MarkdownDoc) -> str:
    """The whole entry: YAML front matter, the question as title, then the sections."""
    meta = {
        "id": doc.id,
        "title": doc.question,
        "owner": OWNER,
        "reviewed_at": doc.reviewed_at,
        "applies_to": list(doc.applies_to),
        "status": doc.status,
        "kind": "faq",
        "version": doc.version,
    }
    if doc.theme_id:
        meta["theme"] = doc.theme_id
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()
    return f"---\n{front}\n---\n{doc.body}"


def file_name(doc: MarkdownDoc) -> str:
    return f"{doc.id}.md"


def write_documents(docs: Sequence[MarkdownDoc], out: Path) -> list[Path]:
    """Write each entry as `<file_name>` into the directory `out` (made if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in docs:
        path = out / file_name(doc)
        path.write_text(document(doc), encoding="utf-8")
        written.append(path)
    return written


def bundle_zip(docs: Sequence[MarkdownDoc]) -> bytes:
    """Every document as `<id>.md` in one zip (for a docs repository or an import)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for doc in docs:
            archive.writestr(file_name(doc), document(doc))
    return buffer.getvalue()


def bundle_text(docs: Sequence[MarkdownDoc]) -> str:
    """Every document in one file, each with its own front matter."""
    return "\n".join(document(doc) for doc in docs)


def html(body: str) -> str:
    """Markdown body → HTML for the Help Center (raw HTML in the source stays escaped)."""
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    rendered: str = renderer.render(RELAY_LINK.sub(r"\1", body))
    return rendered

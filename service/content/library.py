"""The content library in `briefs/`: reviewed Markdown and YAML documents with front matter.

Everything that briefs, FAQs and the triage assistant say about the product comes from
here. A document's `version` is a hash of its bytes, so anything built from it (a FAQ
entry, a PDF brief) can record what it relied on and notice when that changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from service.config import REPO_ROOT

LIBRARY_DIR = REPO_ROOT / "briefs"
FRONT_MATTER = re.compile(r"\A---\n(?P<meta>.*?)\n---\n(?P<body>.*)\Z", re.DOTALL)
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$", re.MULTILINE)
REQUIRED_KEYS = ("id", "title", "owner", "reviewed_at", "applies_to", "status")
# The document kinds; a YAML file without `kind` (the error catalogue) is a catalogue.
KINDS = ("payment_method", "integration", "checklist", "catalogue", "faq")
STATUSES = ("draft", "published", "retired")
# CONTRACT.md's `integration_channel` ids that have a guide (`other` has none).
CHANNELS = ("payment_intents_api", "checkout", "links", "shopify", "woocommerce")


# libyaml's parser when installed: errors.yaml is large and PyYAML's pure parser slow.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, with libyaml's parser when present."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader either way


class ContentError(ValueError):
    """A content file cannot be read as a library document (says which file and why)."""


@dataclass(frozen=True)
class Document:
    """One reviewed document: its front matter, its body and where it lives."""

    id: str
    title: str
    owner: str
    reviewed_at: dt.date
    applies_to: tuple[str, ...]
    status: str
    kind: str  # from the front matter's `kind` (payment_method, integration, checklist, …)
    path: Path
    body: str  # Markdown after the front matter ("" for YAML documents)
    version: str  # sha256 of the file's bytes, first 12 hex digits
    meta: dict[str, Any] = field(default_factory=dict)  # every front-matter key
    body_line: int = 1  # file line on which `body` starts (for file:line messages)

    def section(self, title: str) -> str:
        """The text under the `## title` heading (case-insensitive), or ""."""
        return sections(self.body).get(title.lower(), "")

    @property
    def sources(self) -> tuple[str, ...]:
        """The public pages the facts come from (front matter `sources:`)."""
        return tuple(str(url) for url in self.meta.get("sources") or ())


def sections(markdown: str) -> dict[str, str]:
    """Level-2 sections of a Markdown body by lower-cased heading, text stripped."""
    found: dict[str, str] = {}
    matches = [m for m in HEADING.finditer(markdown) if len(m.group("hashes")) == 2]
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(markdown)
        found[match.group("title").strip().lower()] = markdown[match.end() : end].strip()
    return found


def read_document(path: Path) -> Document:
    """Parse one `.md` (front matter + body) or `.yaml` (keys at the top) file."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    meta, body, body_line = _split(path, text)
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    if missing:
        raise ContentError(f"{path}: front matter lacks {', '.join(missing)}")
    reviewed = meta["reviewed_at"]
    if not isinstance(reviewed, dt.date):
        raise ContentError(f"{path}: reviewed_at must be a date (YYYY-MM-DD)")
    return Document(
        id=str(meta["id"]),
        title=str(meta["title"]),
        owner=str(meta["owner"]),
        reviewed_at=reviewed,
        applies_to=tuple(str(item) for item in meta["applies_to"] or ()),
        status=str(meta["status"]),
        kind=str(meta.get("kind", default_kind(path))),
        path=path,
        body=body,
        version=hashlib.sha256(raw).hexdigest()[:12],
        meta=meta,
        body_line=body_line,
    )


def default_kind(path: Path) -> str:
    """The kind of a document whose front matter names none."""
    return "catalogue" if path.suffix in (".yaml", ".yml") else "reference"


def _split(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    if path.suffix in (".yaml", ".yml"):
        return _mapping(path, load_yaml(text)), "", 1
    meta_text, body, body_line = split_markdown(text, label=str(path))
    return _mapping(path, load_yaml(meta_text)), body, body_line


def split_markdown(text: str, *, label: str) -> tuple[str, str, int]:
    """(front-matter YAML text, body, file line on which the body starts)."""
    match = FRONT_MATTER.match(text)
    if match is None:
        raise ContentError(f"{label}:1: a Markdown document must open with '---' front matter")
    body_line = text[: match.start("body")].count("\n") + 1
    return match.group("meta"), match.group("body"), body_line


def _mapping(path: Path, loaded: object) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise ContentError(f"{path}: front matter must be a mapping of keys")
    return loaded


@dataclass(frozen=True)
class Library:
    """Every document of the library, by id."""

    documents: dict[str, Document]

    def get(self, document_id: str) -> Document | None:
        return self.documents.get(document_id)

    def of_kind(self, kind: str) -> list[Document]:
        """Documents of one kind (e.g. "payment_method"), by id."""
        return sorted((d for d in self.documents.values() if d.kind == kind), key=lambda d: d.id)

    def applying_to(self, label: str) -> list[Document]:
        """Documents whose `applies_to` names `label` (a TAXONOMY id or channel), by id."""
        matching = (d for d in self.documents.values() if label in d.applies_to)
        return sorted(matching, key=lambda d: d.id)

    def versions(self) -> dict[str, str]:
        """Document id → version: what a generated artifact records it relied on."""
        return {doc_id: doc.version for doc_id, doc in sorted(self.documents.items())}


def document_paths(root: Path = LIBRARY_DIR) -> list[Path]:
    """Every content file under `root` (Markdown and YAML), sorted."""
    patterns = ("*.md", "*.yaml", "*.yml")
    paths = {p for pattern in patterns for p in root.rglob(pattern)}
    return sorted(p for p in paths if p.name.lower() != "readme.md")


def load_library(root: Path = LIBRARY_DIR) -> Library:
    """Read every document under `root`; a duplicate id is an error naming both files."""
    documents: dict[str, Document] = {}
    for path in document_paths(root):
        document = read_document(path)
        if document.id in documents:
            other = documents[document.id].path
            raise ContentError(f"{path}: id {document.id!r} is also used by {other}")
        documents[document.id] = document
    return Library(documents)


def library() -> Library:
    """The shipped library (re-read when one of its files changes)."""
    return library_for(None)


def library_for(root: Path | None) -> Library:
    """The library under `root` (None: the shipped one), re-read when a file changes."""
    base = (root or LIBRARY_DIR).resolve()
    return _cached_library(base, _signature(base))


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    stats = ((p, p.stat()) for p in document_paths(root))
    return tuple((str(p), s.st_mtime_ns, s.st_size) for p, s in stats)


@lru_cache(maxsize=4)
def _cached_library(root: Path, _signature: tuple[tuple[str, int, int], ...]) -> Library:
    return load_library(root)

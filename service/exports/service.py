"""Exports: streamed, audited, incremental dumps of feedback records and themes.

One export is: an audit row (written first, in its own short transaction), a read-only
snapshot (count and newest change under the filters: the ETag, `Last-Modified` and the
next `since` cursor), then the rows in chunks of bytes read through a server-side cursor,
and finally the audit row's outcome and row count (again a short transaction of its own).
The snapshot and the rows come from one read transaction (REPEATABLE READ on PostgreSQL,
a WAL read snapshot on SQLite), so headers and body agree, and no writer is ever held.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from service.db import Database, new_id, utcnow
from service.errors import InvalidRequest
from service.exports import sql
from service.exports.models import ExportAudit, ExportStatus
from service.exports.schemas import (
    FEEDBACK_COLUMNS,
    THEME_COLUMNS,
    Column,
    ExportFormat,
    Kind,
)
from service.feedback import service as feedback_service
from service.feedback.models import Feedback
from service.themes import service as themes_service
from service.themes.models import Theme
from service.themes.schemas import ThemeOut

BOM = b"\xef\xbb\xbf"
# Rows per fetch and per chunk sent: large enough that per-chunk costs vanish, small
# enough (a few MB) that memory stays flat whatever the export's size.
CHUNK_ROWS = 5000
# Longer than any write transaction runs (the worker's lease is 60 s by default).
LATE_COMMIT = timedelta(minutes=2)
LINE_END = {ExportFormat.CSV: b"\r\n", ExportFormat.NDJSON: b"\n", ExportFormat.JSON: b",\n"}


# ---------------------------------------------------------------- the since cursor


@dataclass(frozen=True)
class Position:
    """A point in the order of changes: everything updated after it is new."""

    updated_at: datetime
    id: str = ""


def encode_position(position: Position) -> str:
    raw = f"{position.updated_at.astimezone(UTC).isoformat()}|{position.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_since(value: str) -> Position:
    """`since` as an ISO 8601 timestamp (records updated after it) or a cursor we gave out."""
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return Position(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    except ValueError:
        pass
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp_text, record_id = raw.split("|", 1)
        return Position(datetime.fromisoformat(stamp_text).astimezone(UTC), record_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            "since must be an ISO 8601 timestamp or an X-Relay-Next-Since value",
            details={"field": "since"},
        ) from exc


# ---------------------------------------------------------------- what is exported


@dataclass(frozen=True)
class FeedbackExport:
    """The feedback filters of the API, plus `since`/`until` on the time of last change."""

    filters: feedback_service.FeedbackFilters = field(
        default_factory=feedback_service.FeedbackFilters
    )
    since: Position | None = None
    until: datetime | None = None

    def describe(self) -> dict[str, Any]:
        """The filters as given, for the audit log and the ETag."""
        given = {k: v for k, v in asdict(self.filters).items() if v is not None}
        if self.since is not None:
            given["since"] = encode_position(self.since)
        if self.until is not None:
            given["until"] = self.until.astimezone(UTC).isoformat()
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in given.items()}


@dataclass(frozen=True)
class ThemeExport:
    filters: themes_service.ThemeFilters = field(default_factory=themes_service.ThemeFilters)
    since: Position | None = None

    def describe(self) -> dict[str, Any]:
        given: dict[str, Any] = {k: v for k, v in asdict(self.filters).items() if v is not None}
        if self.since is not None:
            given["since"] = encode_position(self.since)
        return given


@dataclass(frozen=True)
class Snapshot:
    """What the export will contain, known before the first byte is sent."""

    count: int
    last: Position | None  # the newest change exported: where the next pull starts

    def etag(self, *, resource: str, fmt: ExportFormat, bom: bool, given: dict[str, Any]) -> str:
        """A strong validator: changes with the rows (count, newest change) and the request."""
        last = encode_position(self.last) if self.last else ""
        key = json.dumps([resource, fmt.value, bom, given, self.count, last], sort_keys=True)
        return '"' + hashlib.sha256(key.encode()).hexdigest()[:40] + '"'

    def next_since(self, given: Position | None, *, now: datetime | None = None) -> str | None:
        """Where the next incremental pull starts: the newest change exported, but never
        later than LATE_COMMIT before now. A transaction stamps `updated_at` before it
        commits, so a record may become visible with a time just below one already
        exported; the margin re-sends such recent records rather than ever skipping one."""
        position = self.last or given
        if position is None:
            return None
        horizon = (now or utcnow()) - LATE_COMMIT
        if position.updated_at > horizon:
            position = Position(horizon, "")
        if given is not None and (position.updated_at, position.id) < (given.updated_at, given.id):
            position = given  # never move a cursor backwards
        return encode_position(position)


def _after(position: Position, updated_at: Any, row_id: Any) -> Any:
    return or_(
        updated_at > position.updated_at,
        and_(updated_at == position.updated_at, row_id > position.id),
    )


def feedback_query(export: FeedbackExport) -> Select[Any]:
    """The records of `export`, in the API's stable order (created_at, id)."""
    query: Select[Any] = feedback_service.filtered(export.filters)
    if export.since is not None:
        query = query.where(_after(export.since, Feedback.updated_at, Feedback.id))
    if export.until is not None:
        query = query.where(Feedback.updated_at < export.until)
    return query


def begin_read(session: Session) -> None:
    """Pin one read snapshot for the whole export (a no-op on SQLite, already a snapshot)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


def feedback_snapshot(session: Session, *, export: FeedbackExport) -> Snapshot:
    """Count and newest change of the records `export` selects."""
    query = feedback_query(export).order_by(None)
    count = session.scalar(query.with_only_columns(func.count()).select_from(Feedback)) or 0
    newest = session.execute(
        query.with_only_columns(Feedback.updated_at, Feedback.id)
        .order_by(Feedback.updated_at.desc(), Feedback.id.desc())
        .limit(1)
    ).first()
    return Snapshot(count=count, last=Position(newest[0], newest[1]) if newest else None)


def feedback_batches(
    session: Session, *, export: FeedbackExport, fmt: ExportFormat, chunk_rows: int = CHUNK_ROWS
) -> Iterator[list[bytes]]:
    """The records as finished UTF-8 lines (CSV or JSON, built by the database), in batches."""
    dialect = session.get_bind().dialect.name
    build = sql.csv_line if fmt is ExportFormat.CSV else sql.json_line
    line = build(dialect, Feedback.__tablename__, FEEDBACK_COLUMNS)
    query = feedback_query(export).with_only_columns(line).select_from(Feedback)
    # On the session's connection (its snapshot), as Core: ORM row loading would cost ~15%.
    connection = session.connection()
    if dialect == "sqlite":
        # SQLite's cursor is lazy and nothing was prefetched from it: read it directly,
        # skipping SQLAlchemy's Row objects (another ~20% of the export's time).
        result = connection.execute(query)
        fetch: Callable[[int], Sequence[Any]] = result.cursor.fetchmany
    else:
        # A server-side cursor; SQLAlchemy buffers its first row, so read through it.
        result = connection.execute(query, execution_options={"yield_per": chunk_rows})
        fetch = result.fetchmany
    first = itemgetter(0)
    try:
        while rows := fetch(chunk_rows):
            yield list(map(first, rows))  # the lines are bytes already (BLOB / bytea)
    finally:
        result.close()


# ---------------------------------------------------------------- themes (few rows: Python)


def theme_rows(session: Session, *, export: ThemeExport) -> list[Theme]:
    """The live themes of `export`, ranked as the API ranks them, changed after `since`."""
    total = session.scalar(select(func.count()).select_from(Theme)) or 0
    # Themes are few (one per recurring problem); the API's own query ranks them.
    themes = themes_service.list_themes(session, filters=export.filters, limit=max(total, 1))
    if export.since is not None:
        since = export.since
        themes = [t for t in themes if (t.updated_at, t.id) > (since.updated_at, since.id)]
    return themes


def theme_snapshot(themes: Sequence[Theme]) -> Snapshot:
    newest = max(((t.updated_at, t.id) for t in themes), default=None)
    return Snapshot(count=len(themes), last=Position(*newest) if newest else None)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _cell(kind: Kind, value: Any) -> str:
    """A CSV field by the same rules as the SQL path (`service.exports.sql`)."""
    if kind is Kind.TEXT:
        return _quote("" if value is None else str(value))
    if value is None:
        return ""
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind in (Kind.LIST, Kind.INT_LIST):
        return _quote(";".join(str(v) for v in value))
    if kind is Kind.OBJECT:
        return _quote(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return str(value)  # numbers, and datetimes already in the API's ISO form


def _flat(record: dict[str, Any], names: set[str]) -> dict[str, Any]:
    # A nested model (not a column itself) becomes `<field>_<subfield>` columns, as in
    # `schemas._flatten`.
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and key not in names:
            out.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def python_line(record: dict[str, Any], fmt: ExportFormat, columns: Sequence[Column]) -> str:
    """One line of an API record (its JSON form) in `fmt`."""
    if fmt is ExportFormat.CSV:
        flat = _flat(record, {c.name for c in columns})
        return ",".join(_cell(c.kind, flat[c.name]) for c in columns)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def theme_batches(
    themes: Sequence[Theme], *, fmt: ExportFormat, chunk_rows: int = CHUNK_ROWS
) -> Iterator[list[bytes]]:
    for start in range(0, len(themes), chunk_rows):
        records = [
            ThemeOut.of(t, themes_service.suggest_fix(t)).model_dump(mode="json")
            for t in themes[start : start + chunk_rows]
        ]
        yield [python_line(r, fmt, THEME_COLUMNS).encode() for r in records]


# ---------------------------------------------------------------- bytes


def encode(
    batches: Iterable[list[bytes]], *, fmt: ExportFormat, bom: bool, header: Sequence[str]
) -> Iterator[tuple[bytes, int]]:
    """Framed chunks of UTF-8 bytes, each with the number of records it carries."""
    end = LINE_END[fmt]
    head = {ExportFormat.CSV: ",".join(header).encode() + end, ExportFormat.JSON: b"[\n"}
    yield (BOM if bom else b"") + head.get(fmt, b""), 0
    first = True
    for lines in batches:
        if not lines:
            continue
        count = len(lines)
        # The separators go in as empty items of the one join: a chunk is megabytes, and
        # concatenating a line end to it would copy it again.
        if fmt is not ExportFormat.JSON:
            lines.append(b"")  # a line end after the last line
        elif not first:
            lines.insert(0, b"")  # ",\n" between this chunk and the previous one
        first = False
        yield end.join(lines), count
    if fmt is ExportFormat.JSON:
        yield (b"\n]\n" if not first else b"]\n"), 0


# ---------------------------------------------------------------- audit


def start_audit(
    session: Session,
    *,
    resource: str,
    actor: str,
    channel: str,
    fmt: ExportFormat,
    filters: dict[str, Any],
    status: ExportStatus = ExportStatus.STREAMING,
) -> ExportAudit:
    """The audit row of an export, written before any row leaves (rows unknown yet)."""
    audit = ExportAudit(
        id=new_id("exp"),
        resource=resource,
        actor=actor,
        channel=channel,
        format=fmt.value,
        filters=filters,
        status=status.value,
        rows=0 if status is ExportStatus.NOT_MODIFIED else None,
        started_at=utcnow(),
        finished_at=utcnow() if status is ExportStatus.NOT_MODIFIED else None,
    )
    session.add(audit)
    return audit


def finish_audit(session: Session, *, audit_id: str, status: ExportStatus, rows: int) -> None:
    """Record how an export ended and how many rows it sent."""
    session.execute(
        update(ExportAudit)
        .where(ExportAudit.id == audit_id)
        .values(status=status.value, rows=rows, finished_at=utcnow())
    )


def audited(
    database: Database,
    *,
    audit_id: str,
    chunks: Iterator[tuple[bytes, int]],
    cleanup: ExitStack,
    progress: Callable[[int], None] | None = None,
) -> Generator[bytes, None, None]:
    """Yield `chunks`; whatever happens (end, error, client gone), close the read session
    and record the outcome and row count in the audit row, in a transaction of its own."""
    rows, status = 0, ExportStatus.FAILED
    try:
        for data, count in chunks:
            rows += count
            if progress is not None:
                progress(count)
            yield data
        status = ExportStatus.COMPLETED
    except GeneratorExit:
        status = ExportStatus.ABORTED
        raise
    finally:
        cleanup.close()
        with database.session() as session:
            finish_audit(session, audit_id=audit_id, status=status, rows=rows)


# ---------------------------------------------------------------- one export, start to end


@dataclass
class Prepared:
    """An export ready to stream: the snapshot for the headers, and the body."""

    snapshot: Snapshot
    etag: str
    body: Generator[bytes, None, None] | None  # None: not modified (nothing to send)
    audit_id: str


@dataclass(frozen=True)
class ExportRequest:
    resource: str  # feedback | themes
    fmt: ExportFormat
    bom: bool
    actor: str
    channel: str  # api | cli
    feedback: FeedbackExport = field(default_factory=FeedbackExport)
    themes: ThemeExport = field(default_factory=ThemeExport)

    def given(self) -> dict[str, Any]:
        described = (
            self.feedback.describe() if self.resource == "feedback" else self.themes.describe()
        )
        return {**described, **({"bom": True} if self.bom else {})}


def prepare(
    database: Database,
    request: ExportRequest,
    *,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Prepared:
    """Audit, snapshot and (unless the caller's copy is still current) the body generator."""
    if request.bom and request.fmt is not ExportFormat.CSV:
        raise InvalidRequest(
            "bom applies to CSV only (JSON forbids a BOM)", details={"field": "bom"}
        )
    cleanup = ExitStack()
    try:
        session = cleanup.enter_context(database.read_session())
        begin_read(session)
        snapshot, batches = _plan(session, request, chunk_rows)
        etag = snapshot.etag(
            resource=request.resource, fmt=request.fmt, bom=request.bom, given=request.given()
        )
        if _not_modified(session, request, etag, if_none_match, if_modified_since):
            cleanup.close()
            audit_id = _audit(database, request, ExportStatus.NOT_MODIFIED)
            return Prepared(snapshot, etag, None, audit_id)
        audit_id = _audit(database, request, ExportStatus.STREAMING)
    except BaseException:
        cleanup.close()
        raise
    header = _header(request.resource)
    chunks = encode(batches, fmt=request.fmt, bom=request.bom, header=header)
    body = audited(database, audit_id=audit_id, chunks=chunks, cleanup=cleanup, progress=progress)
    return Prepared(snapshot, etag, body, audit_id)


def _plan(
    session: Session, request: ExportRequest, chunk_rows: int
) -> tuple[Snapshot, Iterator[list[bytes]]]:
    if request.resource == "feedback":
        snapshot = feedback_snapshot(session, export=request.feedback)
        batches = feedback_batches(
            session, export=request.feedback, fmt=request.fmt, chunk_rows=chunk_rows
        )
        return snapshot, batches
    themes = theme_rows(session, export=request.themes)
    return theme_snapshot(themes), theme_batches(themes, fmt=request.fmt, chunk_rows=chunk_rows)


def _header(resource: str) -> tuple[str, ...]:
    columns = FEEDBACK_COLUMNS if resource == "feedback" else THEME_COLUMNS
    return tuple(c.name for c in columns)


def _audit(database: Database, request: ExportRequest, status: ExportStatus) -> str:
    with database.session() as session:
        audit = start_audit(
            session,
            resource=request.resource,
            actor=request.actor,
            channel=request.channel,
            fmt=request.fmt,
            filters=request.given(),
            status=status,
        )
        return audit.id


def _not_modified(
    session: Session,
    request: ExportRequest,
    etag: str,
    if_none_match: str | None,
    if_modified_since: datetime | None,
) -> bool:
    """Whether the caller's copy is current (RFC 9110 §13.2.2: If-None-Match decides when
    given; If-Modified-Since only without it)."""
    if if_none_match is not None:
        return _matches(if_none_match, etag)
    if if_modified_since is None:
        return False
    # A record that left the filtered set (say its category changed) moved no time inside
    # it, so the newest change of the whole table decides: never a wrong 304, at worst an
    # unneeded 200 (see `last_modified` for the header's side of this).
    model = Feedback if request.resource == "feedback" else Theme
    newest = session.scalar(select(func.max(model.updated_at)))
    return newest is not None and newest <= if_modified_since


def _matches(if_none_match: str, etag: str) -> bool:
    wanted = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in wanted or etag in wanted


def last_modified(snapshot: Snapshot, *, now: datetime | None = None) -> datetime | None:
    """`Last-Modified`, in the whole seconds of an HTTP date, made safe to come back as
    `If-Modified-Since`: the newest change exported rounded up, but never later than
    LATE_COMMIT (and a second) before now. A transaction stamps `updated_at` before it
    commits, so a change committed after this answer may carry a time below its newest;
    keeping the header below every such time means it can never earn a wrong 304."""
    if snapshot.last is None:
        return None
    stamp = snapshot.last.updated_at
    rounded_up = stamp.replace(microsecond=0) + timedelta(seconds=1 if stamp.microsecond else 0)
    horizon = ((now or utcnow()) - LATE_COMMIT).replace(microsecond=0) - timedelta(seconds=1)
    return min(rounded_up, horizon)

"""Feedback records: upsert from ticket events (order-independent), submit, list, correct."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from integrations.contracts import MerchantRef, NormalizedTicket, TicketComment
from service.db import chunked, new_id, new_row, session_cache, utcnow
from service.errors import InvalidRequest, NotFound
from service.feedback.models import Feedback, Merchant
from service.feedback.schemas import FeedbackIn, FeedbackPatch, MerchantIn
from service.memo import Memo
from service.outbound import service as outbound
from service.structuring import pipeline
from service.structuring.redaction import key_modes_in, redact_text

SNAPSHOT_FIELDS = (
    "subject",
    "description",
    "status",
    "priority",
    "tags",
    "external_url",
    "created_at",
)
CORRECTABLE = ("product_area", "category", "payment_method", "theme_id")

# The fold redacts a ticket's texts. Preparing a claim folds each ticket once to preview it
# (`preview`, in the worker's helper process), and the write phase folds it again: the
# preview's redactions travel with the prepared results (`Preview.redactions`,
# `remember_redactions`) and are found here instead of computed twice. By input text.
_redactions: Memo[str, str] = Memo(8192)
_recording = threading.local()


class FeedbackNotFound(NotFound):
    code = "feedback_not_found"


def event_version(occurred_at: datetime | None, tiebreak: str) -> str:
    """A total order on events: source time first, then a stable delivery id."""
    stamp = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if occurred_at else "0"
    return f"{stamp}|{tiebreak}"


def get(session: Session, *, feedback_id: str) -> Feedback:
    """One record, or FeedbackNotFound."""
    record = session.get(Feedback, feedback_id)
    if record is None:
        raise FeedbackNotFound(f"no feedback record {feedback_id!r}")
    return record


def apply_ticket(
    session: Session, *, ticket: NormalizedTicket, tiebreak: str, key_modes: Iterable[str] = ()
) -> Feedback:
    """Fold one ticket event into its record and structure it; older news never overwrites newer."""
    record = fold_ticket(session, ticket=ticket, tiebreak=tiebreak, key_modes=key_modes)
    restructure(record)
    if session_cache(session, "created_feedback").pop(record.id, None) is not None:
        _emit_created(session, record)
    return record


def _emit_created(session: Session, record: Feedback) -> None:
    # Once per record: its first event (in any order) creates it, structured by now.
    if not outbound.wanted(session, "feedback.created"):
        return  # the usual case: no payload to build for every record
    outbound.emit(
        session,
        event_type="feedback.created",
        key=f"feedback.created:{record.id}",
        data={
            "id": record.id,
            "source": record.source,
            "external_id": record.external_id,
            "external_url": record.external_url,
            "merchant_id": record.merchant_id,
            "merchant_name": record.merchant_name,
            "subject": record.subject,
            "product_area": record.product_area,
            "payment_method": record.payment_method,
            "category": record.category,
            "severity": record.severity,
            "error_codes": record.error_codes,
            "created_at": record.created_at,
        },
    )


@dataclass(frozen=True)
class Preview:
    """What one ticket event will make of its record, read without writing anything: the
    text to structure, and the record fields structuring does not decide."""

    input: pipeline.StructureInput
    merchant_name: str | None
    corrected: dict[str, Any]  # labels people set, which structuring never replaces
    redactions: tuple[tuple[str, str], ...] = ()  # (text, redacted) the fold computed

    def labels(self, result: pipeline.Structured) -> dict[str, Any]:
        return merged_labels(result, self.corrected)


def preview(
    session: Session, *, ticket: NormalizedTicket, tiebreak: str, key_modes: Iterable[str] = ()
) -> Preview:
    """What `apply_ticket` will structure, computed without writing anything.

    The worker calls this outside the write transaction (then rolls back) so the costly
    classification can run batched, before the one writer is held.
    """
    with session.no_autoflush, _recorded_redactions() as redactions:
        record = fold_ticket(
            session, ticket=ticket, tiebreak=tiebreak, key_modes=key_modes, writing=False
        )
        return Preview(
            input=_input_of(record),
            merchant_name=record.merchant_name,
            corrected=dict(record.corrected),
            redactions=tuple(redactions),
        )


@contextmanager
def _recorded_redactions() -> Iterator[list[tuple[str, str]]]:
    """The (text, redacted) pairs the fold computes in this thread meanwhile."""
    seen: list[tuple[str, str]] = []
    _recording.seen = seen
    try:
        yield seen
    finally:
        _recording.seen = None


def remember_redactions(redactions: Iterable[tuple[str, str]]) -> None:
    """Keep a preview's redactions for the fold of the write phase."""
    _redactions.put_all(redactions)


def _redacted(text: str) -> str:
    found = _redactions.get(text)
    if found is None:
        found = redact_text(text).text
        seen: list[tuple[str, str]] | None = getattr(_recording, "seen", None)
        if seen is not None:
            seen.append((text, found))
    return found


def merged_labels(result: pipeline.Structured, corrected: dict[str, Any]) -> dict[str, Any]:
    """The classifier's labels, where people did not correct them."""
    return {**result.labels.as_dict(), **corrected}


def _input_of(record: Feedback) -> pipeline.StructureInput:
    return pipeline.StructureInput(
        subject=record.subject,
        text=composed_text(record),
        key_modes=tuple(record.environment_hints),
    )


def fold_ticket(
    session: Session,
    *,
    ticket: NormalizedTicket,
    tiebreak: str,
    key_modes: Iterable[str] = (),
    writing: bool = True,
) -> Feedback:
    """Merge one ticket event into its record (no structuring). `writing` is False for a
    preview, which is rolled back: its record is neither locked nor added to the session."""
    record = _record_for(session, ticket, writing=writing)
    version = event_version(ticket.occurred_at, tiebreak)
    _apply_snapshot(record, ticket, version)
    _merge_comments(record, ticket.comments, version)
    _apply_merchant(session, record, ticket.merchant, version, writing=writing)
    _apply_jira(record, ticket, version)
    if ticket.requester is not None:
        record.requester = ticket.requester.model_dump()
    record.environment_hints = sorted(set(record.environment_hints) | set(key_modes))
    if version > record.source_version:
        record.source_version = version
        record.source_updated_at = ticket.occurred_at or record.source_updated_at
    record.updated_at = utcnow()
    return record


def preload(session: Session, tickets: Iterable[NormalizedTicket], *, lock: bool = True) -> None:
    """Load the records and merchants a batch of ticket events will fold into, a few
    queries for the lot; what does not exist yet is remembered as such (no query later)."""
    known = session_cache(session, "feedback")
    wanted: dict[str, set[str]] = {}
    merchant_ids: set[str] = set()
    for ticket in tickets:
        if (ticket.source, ticket.external_id) not in known:
            wanted.setdefault(ticket.source, set()).add(ticket.external_id)
        if ticket.merchant is not None:
            merchant_ids.add(ticket.merchant.id)
    for source, external_ids in wanted.items():
        for ids in chunked(sorted(external_ids)):
            query = _records_query(session, lock=lock).where(
                Feedback.source == source, Feedback.external_id.in_(ids)
            )
            for record in session.scalars(query.order_by(Feedback.id)):
                known[(record.source, record.external_id)] = record
        for external_id in external_ids:
            known.setdefault((source, external_id), None)
    merchants = session_cache(session, "merchants")
    missing = sorted(merchant_ids - merchants.keys())
    for ids in chunked(missing):
        for row in session.scalars(select(Merchant).where(Merchant.id.in_(ids))):
            merchants[row.id] = row
    for merchant_id in missing:
        merchants.setdefault(merchant_id, None)


def _records_query(session: Session, *, lock: bool) -> Select[Feedback]:
    query = select(Feedback)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # serialize concurrent events of one ticket
    return query


def _record_for(session: Session, ticket: NormalizedTicket, *, writing: bool) -> Feedback:
    known = session_cache(session, "feedback")
    key = (ticket.source, ticket.external_id)
    record: Feedback | None = known.get(key)
    if record is None:
        record = known[key] = _load_or_new(session, ticket, writing=writing, absent=key in known)
    return record


def _load_or_new(
    session: Session, ticket: NormalizedTicket, *, writing: bool, absent: bool
) -> Feedback:
    record: Feedback | None = None
    if not absent:  # `preload` did not already find it missing
        query = _records_query(session, lock=writing).where(
            Feedback.source == ticket.source, Feedback.external_id == ticket.external_id
        )
        record = session.scalar(query)
    if record is None:
        now = utcnow()
        record = new_row(
            Feedback,
            id=new_id("fb"),
            source=ticket.source,
            external_id=ticket.external_id,
            subject="",
            description="",
            text="",
            comments=[],
            tags=[],
            field_versions={},
            source_version="",
            environment_hints=[],
            jira_keys=[],
            corrected={},
            confidence={},
            error_codes=[],
            http_statuses=[],
            event_types=[],
            resource_ids=[],
            created_at=now,
            updated_at=now,
            status="new",
            deleted=False,
        )
        if writing:  # a preview's record is thrown away: adding it cost a tenth of the preview
            session.add(record)
            session_cache(session, "created_feedback")[record.id] = record  # feedback.created
    return record


def _newer(record: Feedback, field: str, version: str) -> bool:
    return version >= record.field_versions.get(field, "")


def _set(record: Feedback, version: str, *fields: str) -> None:
    # One write for all the fields an event changes (a copy and an attribute event each).
    record.field_versions = {**record.field_versions, **dict.fromkeys(fields, version)}


def _apply_snapshot(record: Feedback, ticket: NormalizedTicket, version: str) -> None:
    values: dict[str, Any] = {
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "tags": list(ticket.tags) if ticket.tags is not None else None,
        "external_url": ticket.external_url,
        "created_at": ticket.created_at,
    }
    if ticket.deleted:
        values["status"] = "deleted"
    newer = {f: v for f, v in values.items() if v is not None and _newer(record, f, version)}
    if not newer:
        return
    _set(record, version, *newer)
    for field, value in newer.items():
        _assign(record, field, value)


def _assign(record: Feedback, field: str, value: Any) -> None:
    if field in ("subject", "description"):
        value = _redacted(value)
    target = {"status": "ticket_status", "created_at": "source_created_at"}.get(field, field)
    setattr(record, target, value)
    if field == "status":
        record.status = value
        record.deleted = value == "deleted"


def _merge_comments(record: Feedback, comments: Iterable[TicketComment], version: str) -> None:
    by_id = {c["id"]: c for c in record.comments}
    for comment in comments:
        known = by_id.get(comment.id)
        if known is not None and known["version"] > version:
            continue
        data = comment.model_dump(mode="json")
        data["body"] = _redacted(comment.body)
        by_id[comment.id] = {**data, "version": version}
    record.comments = sorted(by_id.values(), key=lambda c: (c["created_at"] or "", c["id"]))


def _apply_merchant(
    session: Session,
    record: Feedback,
    merchant: MerchantRef | None,
    version: str,
    *,
    writing: bool,
) -> None:
    if merchant is None or not _newer(record, "merchant", version):
        return
    _set(record, version, "merchant")
    if record.merchant_id == merchant.id and merchant.name in (None, record.merchant_name):
        return  # nothing new: skip the merchant lookup on the hot path
    reference = MerchantIn(id=merchant.id, name=merchant.name)
    row = upsert_merchant(session, merchant=reference, writing=writing)
    record.merchant, record.merchant_id, record.merchant_name = row, row.id, row.name
    record.merchant_segment = row.segment


def _apply_jira(record: Feedback, ticket: NormalizedTicket, version: str) -> None:
    if ticket.jira is None:
        return
    if ticket.jira.key not in record.jira_keys:
        record.jira_keys = [*record.jira_keys, ticket.jira.key]
    if _newer(record, "jira", version):
        _set(record, version, "jira")
        record.jira = ticket.jira.model_dump(mode="json")


def upsert_merchant(session: Session, *, merchant: MerchantIn, writing: bool = True) -> Merchant:
    """Create or update a merchant; fields not given keep their stored value. A new one is
    added to the session only when `writing` (a preview's is thrown away with it)."""
    known = session_cache(session, "merchants")
    row = known[merchant.id] if merchant.id in known else session.get(Merchant, merchant.id)
    if row is None:
        row = Merchant(id=merchant.id)
        if writing:
            session.add(row)
    known[merchant.id] = row
    for field in ("name", "segment", "monthly_tpv_php"):
        value = getattr(merchant, field)
        if value is not None and getattr(row, field) != value:  # most events repeat them
            setattr(row, field, value)
    return row


def composed_text(record: Feedback) -> str:
    """What the merchant said: the description and the requester's public comments."""
    parts = [record.description]
    parts += [c["body"] for c in record.comments if c["public"] and c["author_role"] == "requester"]
    return "\n\n".join(p for p in parts if p)


def restructure(record: Feedback) -> None:
    """(Re)derive codes, ids, environment and labels; corrected labels are never replaced."""
    record.text = composed_text(record)
    result = pipeline.structure(_input_of(record))
    record.error_codes = list(result.extraction.error_codes)
    record.http_statuses = list(result.extraction.http_statuses)
    record.event_types = list(result.extraction.event_types)
    record.resource_ids = list(result.extraction.resource_ids)
    record.environment = result.extraction.environment
    labels = merged_labels(result, record.corrected)
    record.product_area = labels["product_area"]
    record.payment_method = labels["payment_method"]
    record.category = labels["category"]
    record.severity = labels["severity"]
    record.confidence = result.confidence
    record.labelled_by = result.model_version


def submit(session: Session, *, data: FeedbackIn) -> Feedback:
    """Store feedback sent directly (API); the same external id updates the same record."""
    if data.merchant is not None:
        upsert_merchant(session, merchant=data.merchant)
    ticket = NormalizedTicket(
        source=data.source,
        external_id=data.external_id or f"api:{new_id('sub')}",
        event_type="api.submitted",
        occurred_at=utcnow(),
        subject=data.subject,
        description=data.body,
        status="new",
        merchant=MerchantRef(id=data.merchant.id, name=data.merchant.name)
        if data.merchant
        else None,
    )
    # Redaction itself happens as the fields are stored; only the key modes are needed here.
    key_modes = key_modes_in(f"{data.subject}\n{data.body}")
    return apply_ticket(session, ticket=ticket, tiebreak="api", key_modes=key_modes)


def correct(session: Session, *, feedback_id: str, patch: FeedbackPatch) -> Feedback:
    """Apply a person's label corrections; they stick through every reclassification."""
    record = get(session, feedback_id=feedback_id)
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidRequest("give at least one of: " + ", ".join(CORRECTABLE))
    theme_id = changes.pop("theme_id", record.theme_id)
    record.corrected = {**record.corrected, **changes}
    record.theme_id = theme_id
    restructure(record)
    record.updated_at = utcnow()
    return record


@dataclass(frozen=True)
class FeedbackFilters:
    source: str | None = None
    product_area: str | None = None
    payment_method: str | None = None
    category: str | None = None
    theme_id: str | None = None
    merchant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered(filters: FeedbackFilters) -> Select[Feedback]:
    """The records matching `filters`, oldest first (stable: created_at, id)."""
    query = select(Feedback)
    for field in (
        "source",
        "product_area",
        "payment_method",
        "category",
        "theme_id",
        "merchant_id",
    ):
        value = getattr(filters, field)
        if value is not None:
            query = query.where(getattr(Feedback, field) == value)
    if filters.since is not None:
        query = query.where(Feedback.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Feedback.created_at < filters.until)
    return query.order_by(Feedback.created_at, Feedback.id)


def encode_cursor(record: Feedback) -> str:
    raw = f"{record.created_at.astimezone(UTC).isoformat()}|{record.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, record_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), record_id
    except ValueError as exc:
        raise InvalidRequest(
            "cursor is not one this API gave out", details={"field": "cursor"}
        ) from exc


def list_page(
    session: Session, *, filters: FeedbackFilters, limit: int, cursor: str | None
) -> tuple[list[Feedback], str | None]:
    """One page of records after `cursor`, and the cursor of the next page (or None)."""
    query = filtered(filters)
    if cursor:
        created_at, record_id = decode_cursor(cursor)
        query = query.where(
            or_(
                Feedback.created_at > created_at,
                and_(Feedback.created_at == created_at, Feedback.id > record_id),
            )
        )
    rows = list(session.scalars(query.limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor

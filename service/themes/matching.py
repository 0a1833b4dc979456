"""What theme matching reads of a record (its features and its known-theme recognition),
computed once per distinct record state and kept for the write phase.

Both are pure functions of a few record fields (`MatchInput`) for this process's models,
so the worker computes them for a whole batch before it holds the writer — in its helper
process when it has one (`worker.helper`) — and `attach` finds them here. A record whose
state the preparation did not foresee (another event of its ticket landed in between) is
simply computed when attached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.feedback.models import Feedback
from service.feedback.service import Preview
from service.memo import Memo
from service.structuring.pipeline import Structured
from service.themes import known, similarity
from service.themes.similarity import RecordFeatures


@dataclass(frozen=True)
class MatchInput:
    """The record fields that features and recognition are computed from."""

    subject: str
    text: str
    merchant_name: str | None
    product_area: str
    payment_method: str | None
    category: str
    error_codes: tuple[str, ...]
    http_statuses: tuple[int, ...]

    @classmethod
    def of(cls, record: Feedback) -> MatchInput:
        return cls(
            subject=record.subject,
            text=record.text,
            merchant_name=record.merchant_name,
            product_area=record.product_area,
            payment_method=record.payment_method,
            category=record.category,
            error_codes=tuple(record.error_codes or ()),
            http_statuses=tuple(record.http_statuses or ()),
        )

    @classmethod
    def foreseen(cls, preview: Preview, result: Structured) -> MatchInput:
        """What `of` will read once the previewed event is applied and structured."""
        labels = preview.labels(result)
        return cls(
            subject=preview.input.subject,
            text=preview.input.text,
            merchant_name=preview.merchant_name,
            product_area=str(labels["product_area"]),
            payment_method=labels["payment_method"],
            category=str(labels["category"]),
            error_codes=tuple(result.extraction.error_codes),
            http_statuses=tuple(result.extraction.http_statuses),
        )


@dataclass(frozen=True)
class Matching:
    features: RecordFeatures
    best: known.KnownMatch  # the model's most likely class and runner-up, however unsure
    recognised: known.KnownMatch | None  # the known theme confidently recognised, if any


# Two claims' worth of records (a batch being written and the next one prepared).
_memo: Memo[MatchInput, Matching] = Memo(2048)


def matching(item: MatchInput) -> Matching:
    """The record's features and recognition (kept from the preparation, or computed)."""
    found = _memo.get(item)
    if found is None:
        (found,) = _compute([item])
        _memo.put_all([(item, found)])
    return found


def prepare(items: Sequence[MatchInput]) -> list[tuple[MatchInput, Matching]]:
    """Compute (and keep) what the batch's records will need; returned to be sent back
    when computed in the helper process."""
    known_already = _memo.found(items)
    missing = [item for item in dict.fromkeys(items) if item not in known_already]
    fresh = list(zip(missing, _compute(missing), strict=True))
    _memo.put_all(fresh)
    return [*known_already.items(), *fresh]


def remember(results: Iterable[tuple[MatchInput, Matching]]) -> None:
    """Keep results computed in the helper process (forked from this one: same models)."""
    _memo.put_all(results)


def forget() -> None:
    """Drop every kept result (tests that swap the known-themes model)."""
    _memo.clear()


def documents(items: Sequence[MatchInput]) -> list[known.Document]:
    """What the known-themes model reads of each record (to learn from people's placements)."""
    return [document for _, document in _read(items)]


def _compute(items: Sequence[MatchInput]) -> list[Matching]:
    """Features and recognition of many records: their texts analysed together, once for
    both, and recognised in one computation."""
    read = _read(items)
    model = known.default()
    best = model.best([document for _, document in read])
    recognised = known.confident(best, model.threshold)
    for f, _ in read:
        f.packed  # noqa: B018 - packed here, where it is prepared, for the writer to store
    return [Matching(f, b, r) for (f, _), b, r in zip(read, best, recognised, strict=True)]


def _read(items: Sequence[MatchInput]) -> list[tuple[RecordFeatures, known.Document]]:
    """Each record's features and the known-themes model's document of it, from one
    analysis of the texts."""
    reads = similarity.analyse([(i.subject, i.text, i.merchant_name) for i in items])
    features = [_features(item, read) for item, read in zip(items, reads, strict=True)]
    documents = [
        known.document(
            subject=item.subject or "",
            text=item.text or "",
            merchant_name=item.merchant_name,
            features=f,
            read=read,
        )
        for item, f, read in zip(items, features, reads, strict=True)
    ]
    return list(zip(features, documents, strict=True))


def _features(item: MatchInput, read: similarity.Tokens) -> RecordFeatures:
    return similarity.featurize(
        subject=item.subject,
        text=item.text,
        product_area=item.product_area,
        payment_method=item.payment_method,
        category=item.category,
        error_codes=item.error_codes,
        http_statuses=item.http_statuses,
        merchant_name=item.merchant_name,
        read=read,
    )

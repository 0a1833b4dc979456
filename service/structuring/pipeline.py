"""Structure one text: extraction (codes, ids, environment) plus labels from the classifier.

The classifier is loaded once per process (`use_classifier`); until one is loaded,
records get the neutral labels below and `model_version` says "none".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service.memo import Memo
from service.structuring.extraction import Extraction, extract


class LabelsLike(Protocol):
    @property
    def product_area(self) -> str: ...
    @property
    def payment_method(self) -> str | None: ...
    @property
    def category(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def confidence(self) -> dict[str, float]: ...
    @property
    def model_version(self) -> str: ...


class ClassifierLike(Protocol):
    def predict_many(
        self, tickets: Sequence[tuple[str, str, Extraction]]
    ) -> Sequence[LabelsLike]: ...


@dataclass(frozen=True)
class LabelSet:
    """The four taxonomy labels; the neutral defaults apply until a classifier is loaded."""

    product_area: str = "other"
    payment_method: str | None = None
    category: str = "how_to"
    severity: str = "low"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "product_area": self.product_area,
            "payment_method": self.payment_method,
            "category": self.category,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class Structured:
    extraction: Extraction
    labels: LabelSet
    confidence: dict[str, float] = field(default_factory=dict)
    model_version: str = "none"


@dataclass(frozen=True)
class StructureInput:
    subject: str
    text: str
    key_modes: tuple[str, ...] = ()


_classifier: ClassifierLike | None = None
# Structuring is a pure function of its input (for one classifier), so results are kept
# for a while: the worker computes a batch ahead, outside the write transaction (or in
# its helper process), and the write phase then finds them here. Two claims' worth.
_memo: Memo[StructureInput, Structured] = Memo(2048)


def use_classifier(classifier: ClassifierLike | None) -> None:
    """Make `classifier` the one every record in this process is labelled by."""
    global _classifier
    _classifier = classifier
    _memo.clear()


def current_classifier() -> ClassifierLike | None:
    return _classifier


def structure(item: StructureInput) -> Structured:
    """Extraction and labels for a ticket's subject and text."""
    return structure_many([item])[0]


def structure_many(items: Sequence[StructureInput]) -> list[Structured]:
    """Structure many inputs, classifying the ones not seen lately in one batch."""
    known = _memo.found(items)
    missing = list(dict.fromkeys(item for item in items if item not in known))
    fresh = dict(zip(missing, _compute(missing), strict=True))
    _memo.put_all(fresh.items())
    return [known.get(item) or fresh[item] for item in items]


def remember(results: Iterable[tuple[StructureInput, Structured]]) -> None:
    """Keep results computed elsewhere (the worker's helper process), those labelled by
    the classifier in use here."""
    version = getattr(_classifier, "model_version", "none")
    _memo.put_all((item, result) for item, result in results if result.model_version == version)


def _compute(items: Sequence[StructureInput]) -> list[Structured]:
    extractions = [extract(f"{i.subject}\n{i.text}", key_modes=i.key_modes) for i in items]
    classifier = _classifier
    if classifier is None:
        return [Structured(extraction=e, labels=LabelSet()) for e in extractions]
    predicted = classifier.predict_many(
        [(i.subject, i.text, e) for i, e in zip(items, extractions, strict=True)]
    )
    return [_structured(e, labels) for e, labels in zip(extractions, predicted, strict=True)]


def _structured(extraction: Extraction, labels: LabelsLike) -> Structured:
    return Structured(
        extraction=extraction,
        labels=LabelSet(
            product_area=labels.product_area,
            payment_method=labels.payment_method,
            category=labels.category,
            severity=labels.severity,
        ),
        confidence=dict(labels.confidence),
        model_version=labels.model_version,
    )

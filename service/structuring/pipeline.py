"""Structure one text: extraction (codes, ids, environment) plus labels from the classifier.

The classifier is loaded once per process (`use_classifier`); until one is loaded,
records get the neutral labels below and `model_version` says "none".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

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
    def predict(self, subject: str, body: str, extraction: Extraction) -> LabelsLike: ...


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


_classifier: ClassifierLike | None = None


def use_classifier(classifier: ClassifierLike | None) -> None:
    """Make `classifier` the one every record in this process is labelled by."""
    global _classifier
    _classifier = classifier


def current_classifier() -> ClassifierLike | None:
    return _classifier


def structure(subject: str, text: str, *, key_modes: Iterable[str] = ()) -> Structured:
    """Extraction and labels for a ticket's subject and text."""
    extraction = extract(f"{subject}\n{text}", key_modes=key_modes)
    if _classifier is None:
        return Structured(extraction=extraction, labels=LabelSet())
    labels = _classifier.predict(subject, text, extraction)
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

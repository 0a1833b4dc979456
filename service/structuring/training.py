"""Training data, training, and honest cross-validated evaluation of the ticket classifier.

Tickets are prepared the way the worker stores them: subject and body redacted, then
extracted (codes, statuses, environment) with the key modes the redactor saw. Evaluation
fits every fold's model on that fold's training part only; nothing is tuned on test folds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from service.structuring import taxonomy
from service.structuring.classifier import (
    LABEL_NAMES,
    RANDOM_STATE,
    SCHEMA_VERSION,
    Classifier,
    LabelledTicket,
    Labels,
    Lexicon,
)
from service.structuring.extraction import Extraction, extract
from service.structuring.redaction import redact_text

CORPUS_PATH = Path(__file__).with_name("corpus") / "tickets-dev.jsonl"
# A human correction outweighs a corpus ticket when the model is refit.
CORRECTION_WEIGHT = 3.0
_VALUES: dict[str, tuple[str, ...]] = {
    "product_area": taxonomy.PRODUCT_AREAS,
    "payment_method": taxonomy.PAYMENT_METHODS,
    "category": taxonomy.CATEGORIES,
    "severity": taxonomy.SEVERITIES,
}

Origin = Literal["corpus", "correction"]


@dataclass(frozen=True)
class Reference:
    """Hand-labelled extraction and redaction truth that comes with a corpus ticket."""

    ticket_id: str
    error_codes: tuple[str, ...]
    environment: str
    must_redact: tuple[str, ...]


@dataclass(frozen=True)
class TrainingExample:
    """One labelled ticket; a correction may carry only the labels a human changed."""

    subject: str
    body: str
    labels: Mapping[str, str | None]
    origin: Origin = "corpus"
    reference: Reference | None = None

    def __post_init__(self) -> None:
        for label, value in self.labels.items():
            _check_label(label, value)


def _check_label(label: str, value: str | None) -> None:
    """Only TAXONOMY.md ids: a typo must not become a new class."""
    if label not in _VALUES:
        raise ValueError(f"unknown label {label!r}")
    if value is None and label == "payment_method":
        return
    if value not in _VALUES[label]:
        raise ValueError(f"{value!r} is not a {label} id")


# ---------------------------------------------------------------- data


def load_corpus(path: Path = CORPUS_PATH) -> list[TrainingExample]:
    """The hand-labelled development corpus."""
    with path.open(encoding="utf-8") as lines:
        return corpus_examples(json.loads(line) for line in lines if line.strip())


def corpus_examples(tickets: Iterable[Mapping[str, Any]]) -> list[TrainingExample]:
    """Training examples of corpus tickets (their hand labels and references)."""
    return [_corpus_example(ticket) for ticket in tickets]


def _corpus_example(ticket: Mapping[str, Any]) -> TrainingExample:
    labels = ticket["labels"]
    return TrainingExample(
        subject=ticket["subject"],
        body=ticket["body"],
        labels={name: labels[name] for name in LABEL_NAMES},
        reference=Reference(
            ticket_id=ticket["id"],
            error_codes=tuple(labels["error_codes"]),
            environment=labels["environment"],
            must_redact=tuple(labels["must_redact"]),
        ),
    )


@dataclass(frozen=True)
class Prepared:
    """A ticket as the worker stores it: redacted text plus what extraction found."""

    subject: str
    body: str
    extraction: Extraction


def prepare(subject: str, body: str) -> Prepared:
    """Redact subject and body, then extract with the key modes the redactor removed."""
    redacted_subject, redacted_body = redact_text(subject), redact_text(body)
    modes = redacted_subject.key_modes | redacted_body.key_modes
    extraction = extract(f"{redacted_subject.text}\n{redacted_body.text}", key_modes=modes)
    return Prepared(redacted_subject.text, redacted_body.text, extraction)


def _labelled(example: TrainingExample, prepared: Prepared) -> LabelledTicket:
    correction = example.origin == "correction"
    return LabelledTicket(
        subject=prepared.subject,
        body=prepared.body,
        extraction=prepared.extraction,
        labels=example.labels,
        weight=CORRECTION_WEIGHT if correction else 1.0,
        remember=correction,
    )


# ---------------------------------------------------------------- training


def training_version(examples: Iterable[TrainingExample], lexicon: Lexicon) -> str:
    """Schema version plus a short hash of the examples and lexicon (no timestamp)."""
    digest = hashlib.sha256(lexicon.digest.encode())
    for example in examples:
        record = [example.subject, example.body, sorted(example.labels.items()), example.origin]
        digest.update(json.dumps(record, ensure_ascii=False).encode())
    return f"{SCHEMA_VERSION}-{digest.hexdigest()[:12]}"


def train(examples: Sequence[TrainingExample]) -> Classifier:
    """Fit the classifier on labelled examples (deterministic for the same examples)."""
    return _fit(examples, [prepare(e.subject, e.body) for e in examples])


def _fit(examples: Sequence[TrainingExample], prepared: Sequence[Prepared]) -> Classifier:
    lexicon = Lexicon.load()
    rows = [_labelled(e, p) for e, p in zip(examples, prepared, strict=True)]
    version = training_version(examples, lexicon)
    return Classifier.fit(rows, model_version=version, lexicon=lexicon)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class LabelReport:
    """Cross-validated quality of one label."""

    label: str
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassMetrics]
    classes: tuple[str, ...]  # order of the confusion table's rows and columns
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class


@dataclass(frozen=True)
class ExtractionReport:
    """Extraction and redaction checked against the corpus's hand labels."""

    tickets: int
    error_codes_exact: float  # share of tickets whose extracted code set equals the label
    environment_accuracy: float
    must_redact: int  # substrings that must not survive redaction
    redaction_misses: int  # of those, how many survived


@dataclass(frozen=True)
class EvaluationReport:
    examples: int
    folds: int
    stratified_by: str
    labels: dict[str, LabelReport]
    extraction: ExtractionReport | None
    train_seconds: float  # mean time to fit one fold's model
    predictions_per_second: float  # one batch of 2,000 tickets, last fold's model


def evaluate(
    examples: Sequence[TrainingExample], folds: int = 5, *, stratify_by: str = "product_area"
) -> EvaluationReport:
    """Stratified k-fold cross-validation; each fold's model sees its training part only."""
    prepared = [prepare(e.subject, e.body) for e in examples]
    held_out = cross_validate(examples, prepared, folds, stratify_by=stratify_by)
    return EvaluationReport(
        examples=len(examples),
        folds=folds,
        stratified_by=stratify_by,
        labels={name: _label_report(name, examples, held_out.labels) for name in LABEL_NAMES},
        extraction=_extraction_report(examples, prepared),
        train_seconds=held_out.fit_seconds / folds,
        predictions_per_second=_throughput(held_out.last_model, prepared),
    )


@dataclass(frozen=True)
class HeldOutLabels:
    """Every example's labels as predicted by a model fitted without it."""

    labels: list[Labels]  # in the examples' order
    fit_seconds: float  # all folds' fitting
    last_model: Classifier  # the last fold's


def cross_validate(
    examples: Sequence[TrainingExample],
    prepared: Sequence[Prepared],
    folds: int = 5,
    *,
    stratify_by: str = "product_area",
) -> HeldOutLabels:
    """Stratified k-fold: each example labelled by the model of the folds without it. The
    theme evaluation reads corpus tickets through these labels too, as attach reads an
    incoming record through the classifier's, never through a hand label."""
    strata = [str(e.labels.get(stratify_by)) for e in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    predictions: list[Labels | None] = [None] * len(examples)
    fit_seconds = 0.0
    model: Classifier | None = None
    for train_rows, test_rows in splitter.split(strata, strata):
        started = time.perf_counter()
        model = _fit([examples[i] for i in train_rows], [prepared[i] for i in train_rows])
        fit_seconds += time.perf_counter() - started
        for row, labels in zip(
            test_rows, model.predict_many(_batch(prepared, test_rows)), strict=True
        ):
            predictions[row] = labels
    assert model is not None  # StratifiedKFold yields `folds` >= 2 splits
    return HeldOutLabels(
        labels=[labels for labels in predictions if labels is not None],
        fit_seconds=fit_seconds,
        last_model=model,
    )


def _batch(prepared: Sequence[Prepared], rows: Iterable[int]) -> list[tuple[str, str, Extraction]]:
    return [(prepared[i].subject, prepared[i].body, prepared[i].extraction) for i in rows]


def _throughput(model: Classifier, prepared: Sequence[Prepared], size: int = 2000) -> float:
    """Tickets per second for one batch of `size` tickets (the examples, repeated)."""
    batch = _batch(prepared, (i % len(prepared) for i in range(size)))
    started = time.perf_counter()
    model.predict_many(batch)
    return size / (time.perf_counter() - started)


def _label_report(
    label: str, examples: Sequence[TrainingExample], predictions: Sequence[Labels | None]
) -> LabelReport:
    pairs = [
        (_name(e.labels[label]), _name(getattr(p, label)))
        for e, p in zip(examples, predictions, strict=True)
        if label in e.labels and p is not None
    ]
    truth = [t for t, _ in pairs]
    predicted = [p for _, p in pairs]
    classes = tuple(sorted(set(truth) | set(predicted)))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(classes), zero_division=0
    )
    return LabelReport(
        label=label,
        accuracy=sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0,
        macro_f1=float(f1_score(truth, predicted, labels=list(classes), average="macro")),
        per_class={
            c: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, c in enumerate(classes)
        },
        classes=classes,
        confusion=tuple(
            tuple(int(n) for n in row)
            for row in confusion_matrix(truth, predicted, labels=list(classes))
        ),
    )


def _name(value: str | None) -> str:
    return "null" if value is None else value


def _extraction_report(
    examples: Sequence[TrainingExample], prepared: Sequence[Prepared]
) -> ExtractionReport | None:
    checked = [(e.reference, p) for e, p in zip(examples, prepared, strict=True) if e.reference]
    if not checked:
        return None
    exact = sum(set(r.error_codes) == set(p.extraction.error_codes) for r, p in checked)
    environment = sum(r.environment == p.extraction.environment for r, p in checked)
    secrets = [(s, f"{p.subject}\n{p.body}") for r, p in checked for s in r.must_redact]
    return ExtractionReport(
        tickets=len(checked),
        error_codes_exact=exact / len(checked),
        environment_accuracy=environment / len(checked),
        must_redact=len(secrets),
        redaction_misses=sum(secret in text for secret, text in secrets),
    )


# ---------------------------------------------------------------- report text


def format_report(report: EvaluationReport) -> str:
    """The evaluation as plain-text tables."""
    sections = [
        f"Classifier evaluation: {report.examples} examples, {report.folds}-fold stratified "
        f"cross-validation (strata: {report.stratified_by}); mean fit "
        f"{report.train_seconds:.2f} s per fold; batched prediction "
        f"{report.predictions_per_second:,.0f} tickets/s",
        _summary_table(report),
        *(_label_section(r) for r in report.labels.values()),
    ]
    if report.extraction:
        sections.append(_extraction_section(report.extraction))
    return "\n\n".join(sections) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, widths from the content."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _summary_table(report: EvaluationReport) -> str:
    rows = [(r.label, f"{r.accuracy:.3f}", f"{r.macro_f1:.3f}") for r in report.labels.values()]
    return _table(("label", "accuracy", "macro-F1"), rows)


def _label_section(report: LabelReport) -> str:
    metrics = [
        (c, f"{m.precision:.2f}", f"{m.recall:.2f}", f"{m.f1:.2f}", str(m.support))
        for c, m in report.per_class.items()
    ]
    per_class = _table(("class", "precision", "recall", "F1", "support"), metrics)
    numbers = [str(i + 1) for i in range(len(report.classes))]
    confusion = _table(
        ("true \\ predicted", *numbers),
        [
            (f"{i + 1} {c}", *(str(n) for n in row))
            for i, (c, row) in enumerate(zip(report.classes, report.confusion, strict=True))
        ],
    )
    title = f"{report.label}: accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}"
    return f"{title}\n{per_class}\n\nconfusion (row: true class, column: predicted)\n{confusion}"


def _extraction_section(report: ExtractionReport) -> str:
    rows = [
        ("error codes, exact set match", f"{report.error_codes_exact:.3f}"),
        ("environment accuracy", f"{report.environment_accuracy:.3f}"),
        ("redaction misses", f"{report.redaction_misses} of {report.must_redact}"),
    ]
    return _table((f"extraction ({report.tickets} tickets)", "value"), rows)

"""The classifier's life in the service: trained from the corpus plus agents' corrections,
loaded once per process, and re-applied to stored records after a retrain."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Database, utcnow
from service.feedback.models import Feedback
from service.feedback.service import restructure
from service.structuring import model_store, pipeline
from service.structuring.classifier import Classifier
from service.structuring.training import TrainingExample, load_corpus, train
from service.themes import known as known_themes
from service.themes import matching
from service.themes import service as themes_service

log = logging.getLogger("relay.learning")
LABELS = ("product_area", "payment_method", "category", "severity")


def corrections(session: Session) -> list[TrainingExample]:
    """Every record a person corrected, as a training example carrying the changed labels."""
    rows = session.scalars(select(Feedback).where(Feedback.corrected != {}))
    return [
        TrainingExample(
            subject=row.subject,
            body=row.text,
            origin="correction",
            labels={k: v for k, v in row.corrected.items() if k in LABELS},
        )
        for row in rows
        if any(k in LABELS for k in row.corrected)
    ]


def examples_provider(database: Database) -> Callable[[], Sequence[TrainingExample]]:
    def provide() -> Sequence[TrainingExample]:
        with database.session() as session:
            return [*load_corpus(), *corrections(session)]

    return provide


def load_classifier(database: Database, settings: Settings) -> Classifier:
    """Load the current model (training it first when there is none) and use it here;
    the known-themes recogniser is trained now too (`learn_known_themes`), not by the first
    record's attach, which runs holding the database's writer."""
    classifier = model_store.ensure_model(settings.data_dir, examples_provider(database))
    pipeline.use_classifier(classifier)
    placements = learn_known_themes(database)
    # The models are millions of objects that live as long as the process (vocabularies of
    # n-grams): in the collector's generations, every full collection walks them all,
    # stalling requests for tens of milliseconds (bench.ingest's p99 was 100 ms from it).
    # Frozen, collections skip them.
    gc.collect()
    gc.freeze()
    log.info(
        "classifier loaded",
        extra={"model_version": classifier.model_version, "known_theme_placements": placements},
    )
    return classifier


def learn_known_themes(database: Database) -> int:
    """Train the known-themes recogniser on the corpus plus every record people placed in a
    known problem's theme, and use it here; returns how many placements it learned."""
    with database.session() as session:
        placed = themes_service.placements(session)
        items = [matching.MatchInput.of(record) for record, _ in placed]
        keys = [key for _, key in placed]
    known_themes.learn(list(zip(matching.documents(items), keys, strict=True)))
    matching.forget()  # recognitions kept from the model before
    return len(keys)


@dataclass(frozen=True)
class Retrained:
    classifier: Classifier
    examples: int  # the label classifier's: corpus tickets plus corrections
    placements: int  # the known-themes recogniser's, besides the corpus


def retrain(database: Database, settings: Settings) -> Retrained:
    """Train on the corpus and every correction, save a new version, and use it; retrain
    the known-themes recogniser with people's placements too."""
    examples = examples_provider(database)()
    classifier = train(examples)
    model_store.save(classifier, settings.data_dir)
    pipeline.use_classifier(classifier)
    return Retrained(classifier, len(examples), learn_known_themes(database))


@dataclass(frozen=True)
class Reclassified:
    records: int
    changed: int


def reclassify(session: Session, *, batch: int = 500) -> Reclassified:
    """Relabel every record with the current model; corrected labels stay as people set them."""
    total = changed = 0
    last_id = ""
    while rows := list(
        session.scalars(
            select(Feedback).where(Feedback.id > last_id).order_by(Feedback.id).limit(batch)
        )
    ):
        for row in rows:
            before = tuple(getattr(row, label) for label in LABELS)
            restructure(row)
            if tuple(getattr(row, label) for label in LABELS) != before:
                row.updated_at = utcnow()
                changed += 1
        total, last_id = total + len(rows), rows[-1].id
        session.flush()
    return Reclassified(records=total, changed=changed)

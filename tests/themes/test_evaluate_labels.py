"""`relay themes evaluate` places corpus tickets with the labels attach would read: the
classifier's, from a model trained without the ticket, not the hand labels."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.structuring import training
from service.structuring.classifier import Classifier, Labels
from service.themes import known, similarity
from service.themes import service as themes


def test_cross_validation_labels_each_ticket_with_a_model_that_never_saw_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = training.load_corpus()
    prepared = [training.prepare(e.subject, e.body) for e in examples]
    fitted_on: list[set[str]] = []
    asked_about: list[set[str]] = []
    fit, predict_many = training._fit, Classifier.predict_many

    def fit_spy(rows: Any, ready: Any) -> Classifier:
        fitted_on.append({p.body for p in ready})
        return fit(rows, ready)

    def predict_spy(self: Classifier, batch: Any) -> list[Labels]:
        asked_about.append({body for _, body, _ in batch})
        return predict_many(self, batch)

    monkeypatch.setattr(training, "_fit", fit_spy)
    monkeypatch.setattr(Classifier, "predict_many", predict_spy)
    held_out = training.cross_validate(examples, prepared, folds=5)

    assert len(held_out.labels) == len(examples)
    assert len(fitted_on) == len(asked_about) == 5
    for trained, asked in zip(fitted_on, asked_about, strict=True):
        assert not trained & asked
    assert set().union(*asked_about) == {p.body for p in prepared}
    # a real classifier: mostly right, and not the hand labels copied
    areas = [
        (e.labels["product_area"], p.product_area)
        for e, p in zip(examples, held_out.labels, strict=True)
    ]
    right = sum(hand == predicted for hand, predicted in areas)
    assert 0.8 * len(areas) < right < len(areas)


def test_classified_features_carry_the_held_out_labels_and_extracted_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tickets = similarity.load_corpus()[:12]
    predicted = [
        Labels(product_area="refunds", payment_method="paymaya", category="how_to", severity="low")
        for _ in tickets
    ]

    def cross_validate(examples: Any, prepared: Any, *args: Any, **kwargs: Any) -> Any:
        assert [e.subject for e in examples] == [t["subject"] for t in tickets]
        return training.HeldOutLabels(
            predicted, fit_seconds=0.0, last_model=Classifier.__new__(Classifier)
        )

    monkeypatch.setattr(training, "cross_validate", cross_validate)
    features = themes.classified_features(tickets)
    hand = themes.corpus_features(tickets)

    assert {(f.product_area, f.payment_method, f.category) for f in features} == {
        ("refunds", "paymaya", "how_to")
    }
    assert [f.error_codes for f in features] == [f.error_codes for f in hand]
    assert [f.vector for f in features] == [f.vector for f in hand]  # the same text


def test_the_model_trains_on_hand_labels_and_is_asked_with_the_classifiers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tickets = similarity.load_corpus()
    hand_features = themes.corpus_features(tickets)
    classified = [dataclasses.replace(f, product_area="qrph") for f in hand_features]
    monkeypatch.setattr(themes, "_classified_corpus", lambda: tuple(classified))

    corpus = themes._corpus("classifier")
    trained_areas = {f for d in corpus.documents for f in d.fields if f.startswith("area:")}
    asked_areas = {f for d in corpus.read for f in d.fields if f.startswith("area:")}
    assert len(trained_areas) > 3  # the hand labels' many areas
    assert asked_areas == {"area:qrph"}
    assert corpus.features == classified

    hand = themes._corpus("hand")
    assert hand.read == hand.documents and hand.features == hand_features


def test_out_of_fold_asks_the_model_about_what_it_is_given_to_read() -> None:
    tickets = similarity.load_corpus()
    documents = known.corpus_documents(tickets)
    truth = [t["labels"]["theme"] for t in tickets]
    plain, _ = known.out_of_fold(documents, truth, folds=3)
    same, _ = known.out_of_fold(documents, truth, folds=3, read=documents)
    blank = [known.Document(text=d.text[:0], fields=()) for d in documents]
    empty, _ = known.out_of_fold(documents, truth, folds=3, read=blank)

    assert same == plain
    assert len({(m.key, round(m.confidence, 6)) for m in empty}) <= 3  # one per fold's model
    assert len({m.key for m in plain}) > 20

"""The layered ticket classifier: training, honest cross-validation, corrections, storage."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer

from service.structuring import classifier as classifier_module
from service.structuring import model_store, taxonomy
from service.structuring.classifier import (
    CATEGORY_CUES,
    Classifier,
    Labels,
    Lexicon,
    _document,
    _normalize,
    _OneVsRest,
    _probabilities,
    _prose,
    _shape_features,
    _word_grams,
    _word_tfidf,
    _WordGrams,
    read_signals,
)
from service.structuring.training import (
    EvaluationReport,
    TrainingExample,
    evaluate,
    format_report,
    load_corpus,
    prepare,
    train,
)

# Honest 5-fold cross-validation on the 220-ticket corpus (no tuning on test folds).
# Measured: product_area accuracy 0.918 (target 0.90), category macro-F1 0.822 (target
# 0.80; 0.811-0.829 over six fold shuffles): the category model reads only the cues about
# the kind of ticket and picks its regularisation by inner CV on its training rows.
PRODUCT_AREA_ACCURACY_FLOOR = 0.90
CATEGORY_MACRO_F1_FLOOR = 0.80
PAYMENT_METHOD_ACCURACY_FLOOR = 0.92
SEVERITY_ACCURACY_FLOOR = 0.64


@pytest.fixture(scope="module")
def corpus() -> list[TrainingExample]:
    return load_corpus()


@pytest.fixture(scope="module")
def classifier(corpus: list[TrainingExample]) -> Classifier:
    return train(corpus)


@pytest.fixture(scope="module")
def report(corpus: list[TrainingExample]) -> EvaluationReport:
    return evaluate(corpus, folds=5)


def predict(classifier: Classifier, subject: str, body: str) -> Labels:
    prepared = prepare(subject, body)
    return classifier.predict(prepared.subject, prepared.body, prepared.extraction)


def test_corpus_loads_every_ticket_with_its_labels(corpus: list[TrainingExample]) -> None:
    assert len(corpus) == 220
    assert all(e.origin == "corpus" and e.reference for e in corpus)
    assert {e.labels["product_area"] for e in corpus} == set(taxonomy.PRODUCT_AREAS)


def test_train_predict_roundtrip_gives_taxonomy_ids(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    predicted = [predict(classifier, e.subject, e.body) for e in corpus[:40]]

    for labels in predicted:
        assert labels.product_area in taxonomy.PRODUCT_AREAS
        assert labels.payment_method is None or labels.payment_method in taxonomy.PAYMENT_METHODS
        assert labels.category in taxonomy.CATEGORIES
        assert labels.severity in taxonomy.SEVERITIES
        assert set(labels.confidence) == {"product_area", "payment_method", "category", "severity"}
        assert all(0.0 <= c <= 1.0 for c in labels.confidence.values())
        assert labels.model_version == classifier.model_version
    truth = [e.labels["product_area"] for e in corpus[:40]]
    fitted = sum(p.product_area == t for p, t in zip(predicted, truth, strict=True))
    assert fitted >= 38


def test_predict_many_equals_one_by_one(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    prepared = [prepare(e.subject, e.body) for e in corpus[40:60]]
    batch = classifier.predict_many([(p.subject, p.body, p.extraction) for p in prepared])

    assert batch == [classifier.predict(p.subject, p.body, p.extraction) for p in prepared]
    assert classifier.predict_many([]) == []


def test_char_gram_counts_are_each_texts_grams_counted(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    chars = classifier.featurizer.chars
    texts = [_prose(_normalize(f"{t.subject}\n{t.body}")) for t in corpus[:60]] + [""]
    counts = chars._counts(texts)
    assert counts.has_canonical_format  # sorted indices, no duplicates
    for row, text in enumerate(texts):
        grams = (g for word in text.split() for g in _word_grams(word))
        expected = Counter(chars.vocabulary[g] for g in grams if g in chars.vocabulary)
        start, end = counts.indptr[row], counts.indptr[row + 1]
        assert counts.indices[start:end].tolist() == sorted(expected)
        assert counts.data[start:end].tolist() == [expected[i] for i in sorted(expected)]


def _same_matrix(fast: Any, reference: Any) -> bool:
    """Equal bit for bit: the same rows, columns (sorted) and float values."""
    return (
        fast.shape == reference.shape
        and np.array_equal(fast.indptr, reference.indptr)
        and np.array_equal(fast.indices, reference.indices)
        and np.array_equal(fast.data, reference.data)
    )


def test_word_grams_weigh_as_scikit_learn_on_the_corpus(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    featurizer = classifier.featurizer
    prepared = [prepare(e.subject, e.body) for e in corpus]
    documents = [
        _document(read_signals(classifier.lexicon, p.subject, p.body, p.extraction))
        for p in prepared
    ]
    for vectorizer, texts in (
        (featurizer.words, [d.text for d in documents] + ["", "a", "x y"]),
        (featurizer.subject, [d.subject for d in documents]),
    ):
        assert _WordGrams.handles(vectorizer)
        assert _same_matrix(_word_tfidf(vectorizer, texts), vectorizer.transform(texts))


WORDS = ("payment", "failed", "gcash", "card", "expired", "a", "I", "é", "ñg", "po", "3ds", "_")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(WORDS) | st.text(max_size=4), max_size=12).map(
            lambda words: "".join(
                f"{w}{s}" for w, s in zip(words, itertools.cycle(" -\n.,'"), strict=False)
            )
        ),
        min_size=1,
        max_size=4,
    )
)
def test_word_grams_weigh_as_scikit_learn(classifier: Classifier, texts: list[str]) -> None:
    vectorizer = classifier.featurizer.words
    assert _same_matrix(_word_tfidf(vectorizer, texts), vectorizer.transform(texts))


def test_word_grams_leave_other_vectorizers_to_scikit_learn() -> None:
    vectorizer = TfidfVectorizer(ngram_range=(1, 3)).fit(["one two three", "two three four"])
    assert not _WordGrams.handles(vectorizer)
    texts = ["one two three four"]
    assert _same_matrix(_word_tfidf(vectorizer, texts), vectorizer.transform(texts))


def test_label_probabilities_are_scikit_learns_on_the_corpus(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    # The fast path multiplies by a contiguous copy of the coefficients: the same floats.
    prepared = [prepare(e.subject, e.body) for e in corpus]
    documents = [
        _document(read_signals(classifier.lexicon, p.subject, p.body, p.extraction))
        for p in prepared
    ]
    matrices = classifier.featurizer.transform(documents)
    for label, model in classifier.models.items():
        assert _OneVsRest.handles(model), label
        fast = _probabilities(model, matrices[label])
        assert np.array_equal(fast, model.predict_proba(matrices[label])), label


def test_probabilities_leave_other_models_to_scikit_learn() -> None:
    constant = DummyClassifier(strategy="most_frequent").fit([[0], [1]], ["a", "a"])
    assert not _OneVsRest.handles(constant)
    assert _probabilities(constant, sparse.csr_matrix([[1.0]])).tolist() == [[1.0]]


CODE_FRAGMENTS = ("```", "``", "    ", "   ", "\t", "\n", " ", "x", "curl -X POST", "?", "\r")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CODE_FRAGMENTS), max_size=14))
def test_code_probe_never_changes_prose_or_shape(parts: list[str]) -> None:
    text = "".join(parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classifier_module, "_may_hold_code", lambda _text: True)
        scanned = (_prose(text), _shape_features("subject", text))
    assert (_prose(text), _shape_features("subject", text)) == scanned


def test_training_is_deterministic(classifier: Classifier, corpus: list[TrainingExample]) -> None:
    again = train(corpus)
    sample = corpus[100:120]

    assert again.model_version == classifier.model_version
    assert [predict(again, e.subject, e.body) for e in sample] == [
        predict(classifier, e.subject, e.body) for e in sample
    ]


def test_cross_validation_reaches_the_floors(report: EvaluationReport) -> None:
    assert report.folds == 5
    assert report.examples == 220
    assert report.labels["product_area"].accuracy >= PRODUCT_AREA_ACCURACY_FLOOR
    assert report.labels["category"].macro_f1 >= CATEGORY_MACRO_F1_FLOOR
    assert report.labels["payment_method"].accuracy >= PAYMENT_METHOD_ACCURACY_FLOOR
    assert report.labels["severity"].accuracy >= SEVERITY_ACCURACY_FLOOR
    assert report.train_seconds < 10


def test_report_has_per_class_metrics_confusion_and_extraction(report: EvaluationReport) -> None:
    category = report.labels["category"]
    assert set(category.classes) == set(taxonomy.CATEGORIES)
    assert sum(m.support for m in category.per_class.values()) == 220
    assert sum(map(sum, category.confusion)) == 220
    assert report.extraction is not None
    assert 0.0 <= report.extraction.error_codes_exact <= 1.0
    assert 0.0 <= report.extraction.environment_accuracy <= 1.0
    assert report.extraction.must_redact == 25

    text = format_report(report)

    for heading in ("macro-F1", "precision", "confusion", "exact set match", "redaction misses"):
        assert heading in text
    assert "misconfiguration" in text and "null" in text


def test_a_correction_changes_the_prediction_for_that_text(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    ticket = next(e for e in corpus if e.reference and e.reference.ticket_id == "T-0001")
    before = predict(classifier, ticket.subject, ticket.body)
    assert before.category != "feature_request"
    correction = TrainingExample(
        subject=ticket.subject,
        body=ticket.body,
        labels={"category": "feature_request", "payment_method": "card"},
        origin="correction",
    )

    retrained = train([*corpus, correction])
    after = predict(retrained, ticket.subject, ticket.body)

    assert after.category == "feature_request"
    assert after.payment_method == "card"
    assert after.confidence["category"] == 1.0
    assert after.product_area == before.product_area  # uncorrected labels stay the model's
    assert retrained.model_version != classifier.model_version


def test_category_reads_kind_cues_not_topic_cues(classifier: Classifier) -> None:
    featurizer = classifier.featurizer
    names = featurizer.cues.get_feature_names_out()
    category = {names[i] for i in featurizer.cue_columns[CATEGORY_CUES]}

    assert category and all(name.startswith(CATEGORY_CUES) for name in category)
    assert not any(name.startswith("lex:product_area:") for name in category)
    assert any(name.startswith("lex:product_area:") for name in names)
    prepared = prepare("Refund question", "How do I refund a GCash payment?")
    signals = read_signals(classifier.lexicon, prepared.subject, prepared.body, prepared.extraction)
    documents = [_document(signals)]
    matrices = featurizer.transform(documents)
    assert matrices["category"].shape[1] < matrices["product_area"].shape[1]


@pytest.mark.parametrize(
    ("subject", "body", "category"),
    [
        (
            "How do I refund part of a payment?",
            "Hi, how can we refund only one item of a GCash order from the dashboard? "
            "Is there a way to do it through the API too?",
            "how_to",
        ),
        (
            "Refund button does nothing",
            "When I click Refund on a card payment nothing happens, no error. "
            "It worked last month. Is this a bug?",
            "bug",
        ),
        (
            "Webhook signature mismatch",
            "Our Express handler computes the HMAC over JSON.stringify(req.body) and it never "
            "matches. ```const sig = hmac(JSON.stringify(req.body))``` What are we doing wrong?",
            "misconfiguration",
        ),
        (
            "Verification takes too long",
            "Our account has been under review for three weeks and we keep waiting. "
            "The process is slow and confusing.",
            "friction",
        ),
        (
            "Could you add Shopee Pay to payment links?",
            "We would love an option to accept ShopeePay on payment links. Any plans?",
            "feature_request",
        ),
        (
            "Everything is down",
            "All our live payments are failing since 9am, cards and GCash. Is PayMongo down? "
            "Other merchants see the same.",
            "incident",
        ),
    ],
)
def test_category_of_clear_tickets(
    classifier: Classifier, subject: str, body: str, category: str
) -> None:
    assert predict(classifier, subject, body).category == category


def test_taglish_ticket(classifier: Classifier) -> None:
    labels = predict(
        classifier,
        "gcash hindi gumagana lahat ng bayad",
        "hello po, simula kaninang 11am lahat ng GCash payments namin failed, live site po. "
        "card okay naman. may problema ba sa inyo? ang daming customers nagrereklamo",
    )

    assert labels.payment_method == "gcash"
    assert labels.product_area == "ewallets"
    assert labels.severity in ("high", "critical")


@pytest.mark.parametrize(
    ("text", "area", "method"),
    [
        ("FTUBE004", "online_banking", "dob"),
        ("PY0105", "ewallets", "paymaya"),
        ("sub_code: insufficient_funds", "cards", "card"),
    ],
)
def test_text_with_only_an_error_code(
    classifier: Classifier, text: str, area: str, method: str
) -> None:
    labels = predict(classifier, "", text)

    assert (labels.product_area, labels.payment_method) == (area, method)
    assert labels.confidence["product_area"] > 0.9


def test_rules_say_null_when_no_method_is_named(classifier: Classifier) -> None:
    labels = predict(
        classifier, "Dashboard 2FA", "I cannot log in to the dashboard with my 2FA code"
    )

    assert labels.payment_method is None


def test_model_store_save_load_and_version_stability(
    tmp_path: Path, classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    assert model_store.load_current(tmp_path) is None

    version = model_store.save(classifier, tmp_path)
    loaded = model_store.load_current(tmp_path)

    assert version == classifier.model_version
    assert (tmp_path / "models" / f"classifier-{version}.joblib").is_file()
    assert (tmp_path / "models" / "current").read_text().strip() == version
    assert loaded is not None and loaded.model_version == version
    sample = corpus[:10]
    assert [predict(loaded, e.subject, e.body) for e in sample] == [
        predict(classifier, e.subject, e.body) for e in sample
    ]
    assert model_store.save(loaded, tmp_path) == version  # same data, same version
    assert len(list((tmp_path / "models").glob("classifier-*.joblib"))) == 1


def test_load_current_ignores_a_bad_pointer_or_artifact(
    tmp_path: Path, classifier: Classifier
) -> None:
    version = model_store.save(classifier, tmp_path)
    (tmp_path / "models" / "current").write_text("../../etc/passwd\n")
    assert model_store.load_current(tmp_path) is None

    (tmp_path / "models" / "current").write_text(version)
    (tmp_path / "models" / f"classifier-{version}.joblib").write_bytes(b"not a model")
    assert model_store.load_current(tmp_path) is None


def test_ensure_model_trains_once_then_loads(tmp_path: Path, corpus: list[TrainingExample]) -> None:
    calls: list[int] = []

    def provider() -> list[TrainingExample]:
        calls.append(1)
        return corpus

    first = model_store.ensure_model(tmp_path, provider)
    second = model_store.ensure_model(tmp_path, provider)

    assert calls == [1]
    assert second.model_version == first.model_version


def test_batched_prediction_throughput(
    classifier: Classifier, corpus: list[TrainingExample]
) -> None:
    prepared = [prepare(e.subject, e.body) for e in corpus]
    batch = [(p.subject, p.body, p.extraction) for p in prepared] * 10

    started = time.perf_counter()
    classifier.predict_many(batch)
    rate = len(batch) / (time.perf_counter() - started)

    # The target is 2,000 tickets/s; the floor leaves room for a busy CI machine.
    assert rate >= 500


def test_labels_outside_the_taxonomy_are_rejected() -> None:
    with pytest.raises(ValueError, match="category"):
        TrainingExample("s", "b", {"category": "question"})
    with pytest.raises(ValueError, match="unknown label"):
        TrainingExample("s", "b", {"theme": "x"})


def test_lexicon_rejects_unknown_ids_and_upper_case(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("product_area:\n  wallets: ['gcash']\n")
    upper = tmp_path / "upper.yaml"
    upper.write_text("product_area:\n  ewallets: ['GCash']\n")

    with pytest.raises(ValueError, match="unknown label ids"):
        Lexicon.load(unknown)
    with pytest.raises(ValueError, match="lower case"):
        Lexicon.load(upper)

"""Theme matching prepared for a batch at once gives what each record alone gives."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.themes import known, matching, similarity

TICKETS = similarity.load_corpus()
TEXTS = [(t["subject"], t["body"], t["merchant"]["name"]) for t in TICKETS]
# Edge cases: nothing left once stop words and the merchant's name are gone, one word.
TEXTS += [
    ("", "", None),
    ("hi", "thanks po", "Acme"),
    ("Acme", "acme", "Acme"),
    ("x", "refund", None),
]

MASK = 2**64 - 1


def reference_char_ngrams(text: str) -> list[int]:
    """Hashed char 3-5-grams of one text, in plain Python: per n, word after word."""
    words = similarity._content_words(text)
    found = []
    for n in range(similarity.CHAR_NGRAMS[0], similarity.CHAR_NGRAMS[1] + 1):
        for word in words:
            padded = f" {word} "
            for start in range(len(padded) - n + 1):
                value = n
                for char in padded[start : start + n]:
                    value = (value * 1_000_003 + ord(char)) & MASK
                value ^= value >> 29
                value = (value * 0xBF58476D1CE4E5B9) & MASK
                value ^= value >> 32
                signed = value - 2**64 if value >= 2**63 else value
                found.append(similarity.HASH_SPACE + signed % similarity.HASH_SPACE)
    return found


def test_char_ngrams_of_a_batch_are_each_texts_own_in_order() -> None:
    texts = [body for _, body, _ in TEXTS[:40]] + ["", "a", "naïve café — ok"]
    segments = [similarity._content_words(text) for text in texts]
    flat, bounds = similarity._char_indices_many(segments)
    for i, text in enumerate(texts):
        assert flat[bounds[i] : bounds[i + 1]].tolist() == reference_char_ngrams(text)


def test_analysing_a_batch_equals_analysing_each_record_alone() -> None:
    together = similarity.analyse(TEXTS)
    for text, read in zip(TEXTS, together, strict=True):
        (alone,) = similarity.analyse([text])
        assert read.words == alone.words
        assert np.array_equal(read.word_indices, alone.word_indices)
        assert np.array_equal(read.char_indices, alone.char_indices)
        assert not read.word_indices.flags.writeable and not read.char_indices.flags.writeable
    for (subject, body, name), read in list(zip(TEXTS, together, strict=True))[:30]:
        subject, body = similarity._strip_noise(subject, name), similarity._strip_noise(body, name)
        expected = reference_char_ngrams(subject) * similarity.SUBJECT_REPEAT
        assert read.char_indices.tolist() == expected + reference_char_ngrams(body)
    assert similarity.analyse([]) == []


def reference_word_grams() -> Any:
    """scikit-learn's analyzer of the word 1-2-grams, the stop words left out."""
    from sklearn.feature_extraction.text import HashingVectorizer

    stop = sorted(similarity.stop_words())
    return HashingVectorizer(ngram_range=(1, 2), stop_words=stop).build_analyzer()


def test_word_grams_are_scikit_learns_on_the_corpus() -> None:
    analyze = reference_word_grams()
    for subject, body, _ in TEXTS:
        assert similarity._word_grams(subject) == analyze(subject)
        assert similarity._word_grams(body) == analyze(body)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["po", "the", "GCash", "a", "refund", "İ", "ß", "é", "x_y", "3ds"])
        | st.text(max_size=5),
        max_size=12,
    ),
    st.sampled_from([" ", "-", "\n", ", ", ""]),
)
def test_word_grams_are_scikit_learns(parts: list[str], glue: str) -> None:
    text = glue.join(parts)
    assert similarity._word_grams(text) == reference_word_grams()(text)


@given(
    st.lists(st.integers(0, 5000), min_size=0, max_size=300),
    st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0]), min_size=300, max_size=300),
    st.integers(1, 60),
)
def test_the_strongest_features_are_the_head_of_a_full_sort(
    raw: list[int], weights: list[float], count: int
) -> None:
    indices = np.asarray(list(dict.fromkeys(raw)), dtype=np.int64)  # distinct, any order
    values = np.asarray(weights[: len(indices)], dtype=np.float64)  # many ties on purpose
    full = np.lexsort((indices, -values))[:count]
    assert similarity._top(indices, values, count).tolist() == full.tolist()


def reference_blend(
    word_index: Any, word_weight: Any, char_index: Any, char_weight: Any
) -> dict[int, float]:
    """Every feature merged and fully sorted (what `_blend` must equal)."""
    indices = np.concatenate([word_index, char_index])
    unit = similarity._unit
    blended = np.concatenate([unit(word_weight), similarity.CHAR_WEIGHT * unit(char_weight)])
    indices, inverse = np.unique(indices, return_inverse=True)
    weights = np.bincount(inverse, weights=blended)
    order = np.lexsort((indices, -weights))[: similarity.RECORD_FEATURES]
    return dict(zip(indices[order].tolist(), unit(weights[order]).tolist(), strict=True))


def _as_dict(blended: tuple[Any, Any]) -> dict[int, float]:
    indices, weights = blended
    return dict(zip(indices.tolist(), weights.tolist(), strict=True))


def test_blending_a_records_weights_equals_merging_and_sorting_them_all() -> None:
    for read in similarity.analyse(TEXTS):
        words = Counter(read.words)
        parts = (*similarity._word_weights(words, read), *similarity._char_weights(read))
        assert _as_dict(similarity._blend(*parts)) == reference_blend(*parts)
    # Two words whose hashes collide add up.
    index, weight = np.array([5, 9, 5]), np.array([1.0, 2.0, 3.0])
    chars, char_weight = np.array([2**20 + 1]), np.array([1.0])
    assert _as_dict(similarity._blend(index, weight, chars, char_weight)) == reference_blend(
        index, weight, chars, char_weight
    )


def records() -> list[matching.MatchInput]:
    return [
        matching.MatchInput(
            subject=t["subject"],
            text=t["body"],
            merchant_name=t["merchant"]["name"],
            product_area=t["labels"]["product_area"],
            payment_method=t["labels"]["payment_method"],
            category=t["labels"]["category"],
            error_codes=tuple(t["labels"]["error_codes"]),
            http_statuses=tuple(t["labels"]["http_statuses"]),
        )
        for t in TICKETS
    ]


def test_a_prepared_batch_matches_each_record_computed_alone() -> None:
    items = records()
    matching.forget()
    prepared = dict(matching.prepare(items))
    matching.forget()
    for item in items:
        alone = matching.matching(item)
        batch = prepared[item]
        assert list(batch.features.vector) == list(alone.features.vector)
        assert np.allclose(
            list(batch.features.vector.values()), list(alone.features.vector.values()), atol=1e-12
        )
        assert batch.features.terms == alone.features.terms
        assert (batch.recognised is None) == (alone.recognised is None)
        if batch.recognised is not None and alone.recognised is not None:
            assert batch.recognised.key == alone.recognised.key
            assert batch.recognised.confidence == pytest.approx(
                alone.recognised.confidence, abs=1e-12
            )
    matching.forget()


def test_features_from_a_batch_analysis_equal_features_analysed_alone() -> None:
    items = records()[:60]
    reads = similarity.analyse([(i.subject, i.text, i.merchant_name) for i in items])
    for item, read in zip(items, reads, strict=True):
        similarity.tokens.cache_clear()
        fields = {
            "subject": item.subject,
            "text": item.text,
            "product_area": item.product_area,
            "payment_method": item.payment_method,
            "category": item.category,
            "merchant_name": item.merchant_name,
        }
        assert similarity.featurize(**fields, read=read) == similarity.featurize(**fields)


def test_recognising_a_batch_gives_scikit_learns_probabilities() -> None:
    model = known.default()
    features = [matching.matching(item).features for item in records()]
    documents = [
        known.document(
            subject=t["subject"], text=t["body"], merchant_name=t["merchant"]["name"], features=f
        )
        for t, f in zip(TICKETS, features, strict=True)
    ]
    expected = model.probabilities(documents)
    together = model.best(documents)
    for row, match, document in zip(expected, together, documents, strict=True):
        assert model.keys[int(row.argmax())] == match.key
        assert match.confidence == pytest.approx(float(row.max()), abs=1e-12)
        (alone,) = model.best([document])
        assert alone.key == match.key
        assert alone.confidence == pytest.approx(match.confidence, abs=1e-12)

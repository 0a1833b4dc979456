"""Theme matching prepared for a batch at once gives what each record alone gives."""

from __future__ import annotations

import numpy as np
import pytest

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

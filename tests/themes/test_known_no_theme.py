"""Known themes: theme-less tickets train a "no theme" class; classes weigh the same."""

from __future__ import annotations

import numpy as np
import pytest

from service.themes import known

REFUND = ("refund", "stuck", "gcash", "pending")
PAYOUT = ("payout", "late", "bank", "settlement")
QUESTION = ("question", "feature", "roles", "request")


_IDS: dict[str, int] = {}


def doc(*words: str, area: str = "other") -> known.Document:
    # Small integers stand in for hashed n-grams: the model only sees columns.
    ids = [_IDS.setdefault(w, len(_IDS)) for w in words]
    return known.Document(text=np.asarray(ids, dtype=np.int64), fields=(area,))


def corpus(refunds: int = 4, payouts: int = 4) -> tuple[list[known.Document], list[str | None]]:
    documents = [doc(*REFUND, f"r{i}", area="refunds") for i in range(refunds)]
    documents += [doc(*PAYOUT, f"p{i}", area="payouts") for i in range(payouts)]
    documents += [doc(*QUESTION, f"q{i}") for i in range(4)]
    keys: list[str | None] = ["refund-stuck"] * refunds + ["payout-delay"] * payouts
    return documents, keys + [None] * 4


def test_a_record_most_like_the_theme_less_tickets_is_not_recognised() -> None:
    model = known.KnownThemes.train(*corpus(), threshold=0.0)
    assert known.NO_THEME in model.keys
    question, refund = doc(*QUESTION, "new"), doc(*REFUND, "new", area="refunds")
    assert model.best([question])[0].key == known.NO_THEME
    assert model.predict([question, refund]) == [None, model.predict([refund])[0]]
    assert model.predict([refund])[0] is not None
    assert model.predict([refund])[0].key == "refund-stuck"  # type: ignore[union-attr]


def test_the_fast_path_agrees_with_scikit_learn_on_no_theme() -> None:
    model = known.KnownThemes.train(*corpus())
    question = doc(*QUESTION, "new")
    one = model.best([question])[0]  # the numpy path, one document or many
    both = model.best([question, question])
    expected = model.probabilities([question])[0]
    assert one.key == both[0].key == both[1].key == known.NO_THEME
    assert model.keys[int(expected.argmax())] == known.NO_THEME
    assert one.confidence == both[1].confidence == pytest.approx(expected.max(), abs=1e-12)


def test_no_theme_is_never_confident_however_probable() -> None:
    matches = [known.KnownMatch(known.NO_THEME, 0.99), known.KnownMatch("refund-stuck", 0.5)]
    assert known.confident(matches, 0.1) == [None, matches[1]]
    assert known.confident(matches, 0.6) == [None, None]


def test_theme_less_examples_alone_do_not_make_a_model() -> None:
    documents, keys = corpus()
    only_one_theme = [k if k != "payout-delay" else None for k in keys]
    with pytest.raises(ValueError):
        known.KnownThemes.train(documents, only_one_theme)


def test_a_theme_with_more_examples_is_not_favoured_for_that_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A record sharing as much with two themes, one labelled three times as often: with
    # equal class weights the bigger theme gets less of an edge than with none.
    documents, keys = corpus(refunds=12, payouts=4)
    between = doc(REFUND[0], REFUND[1], PAYOUT[0], PAYOUT[1])

    def refund_share() -> float:
        model = known.KnownThemes.train(documents, keys)
        row = model.probabilities([between])[0]
        probability = dict(zip(model.keys, row, strict=True))
        return float(probability["refund-stuck"] / probability["payout-delay"])

    balanced = refund_share()
    monkeypatch.setattr(known, "CLASS_WEIGHT", None)
    assert refund_share() > balanced


def test_the_shipped_model_knows_the_theme_less_tickets() -> None:
    model = known.default()
    assert known.NO_THEME in model.keys and len(model.keys) == 35

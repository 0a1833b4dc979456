"""`relay themes evaluate`: the known-themes and new-themes figures, for the fold seed asked,
and the pair counting behind the new-themes figures."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from service.themes import known, similarity
from service.themes import service as themes
from service.themes.cli import themes_app


def test_the_seed_reaches_the_evaluation_and_no_theme_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds: list[int] = []
    sources: list[str] = []

    def evaluate_known(*, seed: int = 0, labels: str = "classifier") -> themes.KnownEvaluation:
        seeds.append(seed)
        sources.append(labels)
        return themes.KnownEvaluation(
            precision=0.75,
            recall=0.8,
            recognised=170,
            recognised_right=150,
            themeless_recognised=12,
            no_theme=20,
            no_theme_right=15,
            thresholds=(0.2, 0.225),
            whole_corpus_threshold=0.225,
        )

    def evaluate_new_themes(
        *, seed: int = 0, labels: str = "classifier"
    ) -> themes.NewThemesEvaluation:
        seeds.append(seed)
        sources.append(labels)
        return themes.NewThemesEvaluation(
            precision=0.25, recall=0.5, tickets=220, recognised=87, in_known=61
        )

    monkeypatch.setattr(themes, "evaluate_known", evaluate_known)
    monkeypatch.setattr(themes, "evaluate_new_themes", evaluate_new_themes)
    result = CliRunner().invoke(
        themes_app, ["evaluate", "--no-sweep", "--no-held-out", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert seeds == [3, 3, 3, 3]
    # the classifier's labels (what attach reads) first, then the hand labels
    assert sources == ["classifier", "classifier", "hand", "hand"]
    assert "pairwise precision 0.250, recall 0.500; 87 of 220 held-out" in result.output
    assert "taken for a known theme by the model, 61 ended in one" in result.output
    assert (
        "seed 3; labels from the classifier trained without the ticket, as attach reads a "
        "record): pairwise precision 0.750, recall 0.800" in result.output
    )
    assert "seed 3; hand labels, every label right): pairwise precision 0.750" in result.output
    assert '"no theme" most likely for 20 ticket(s), 15 of them theme-less' in result.output
    threshold = similarity.JOIN_THRESHOLD
    assert f"similarity clustering alone (hand labels), threshold {threshold:.3f}" in result.output


def test_one_label_source_is_evaluated_when_asked_and_a_wrong_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources: list[str] = []

    def evaluate_known(*, seed: int = 0, labels: str = "classifier") -> themes.KnownEvaluation:
        sources.append(labels)
        return themes.KnownEvaluation(0.7, 0.7, 1, 1, 0, 0, 0, (0.2,), 0.2)

    monkeypatch.setattr(themes, "evaluate_known", evaluate_known)
    options = ["evaluate", "--no-sweep", "--no-held-out", "--no-new-themes"]
    result = CliRunner().invoke(themes_app, [*options, "--labels", "hand"])
    assert result.exit_code == 0, result.output
    assert sources == ["hand"]
    refused = CliRunner().invoke(themes_app, [*options, "--labels", "gold"])
    assert refused.exit_code == 2
    assert "'gold': expected one of classifier, hand, both" in refused.output
    assert sources == ["hand"]


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", None]), st.integers(0, 4), st.booleans()),
        max_size=30,
    )
)
def test_pairs_with_a_held_out_record_are_all_pairs_less_those_without_one(
    rows: list[tuple[str | None, int, bool]],
) -> None:
    truth = [t for t, _, _ in rows]
    predicted = [p for _, p, _ in rows]
    kept = [i for i, (_, _, held_out) in enumerate(rows) if not held_out]
    counted = similarity.PairCounts.of(truth, predicted) - similarity.PairCounts.of(
        [truth[i] for i in kept], [predicted[i] for i in kept]
    )
    pairs = [
        (i, j)
        for i, j in combinations(range(len(rows)), 2)
        if rows[i][2] or rows[j][2]  # at least one held out
    ]
    same_truth = {(i, j) for i, j in pairs if truth[i] is not None and truth[i] == truth[j]}
    same_predicted = {(i, j) for i, j in pairs if predicted[i] == predicted[j]}
    assert counted == similarity.PairCounts(
        agreed=len(same_truth & same_predicted),
        predicted=len(same_predicted),
        true=len(same_truth),
    )


def test_each_labelled_theme_is_missing_whole_from_exactly_one_training_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trained_on: list[set[str]] = []
    train = known.KnownThemes.train

    def spy(documents: Any, keys: Any, **options: Any) -> known.KnownThemes:
        trained_on.append({k for k in keys if k is not None})
        return train(documents, keys, **options)

    monkeypatch.setattr(known.KnownThemes, "train", staticmethod(spy))
    outcome = themes.evaluate_new_themes(folds=5, seed=1, labels="hand")

    labelled = {t["labels"]["theme"] for t in similarity.load_corpus()} - {None}
    assert len(trained_on) == 5
    for theme in labelled:  # a theme is either wholly in a training set or wholly out
        assert sum(theme not in keys for keys in trained_on) == 1
    assert 0.0 <= outcome.precision <= 1.0 and 0.0 <= outcome.recall <= 1.0
    assert outcome.tickets == 220
    assert 0 < outcome.in_known <= outcome.tickets


def test_a_known_cluster_is_one_its_first_record_was_recognised_into() -> None:
    hit = known.KnownMatch("payout-delay", 0.9)
    # cluster 1 formed by similarity; a recognised record (3) joined it later: not known
    assigned = [0, 0, 1, 1, 2]
    recognised = [hit, None, None, hit, hit]
    assert themes.known_clusters(assigned, recognised) == {0, 2}

"""Clustering quality on the hand-labelled corpus: pairwise precision and recall of "same theme".

The target was 0.80 / 0.80. What the shipped lexical algorithm measures (deterministic) is
precision 0.566, recall 0.577 at JOIN_THRESHOLD 0.35 (`relay themes evaluate` prints the
sweep). The floors below guard that figure against regressions; raising them needs a better
similarity (e.g. optional offline sentence embeddings), not a retuned threshold.
"""

from __future__ import annotations

from typer.testing import CliRunner

from service.themes import service as themes
from service.themes import similarity
from service.themes.cli import themes_app

PRECISION_FLOOR = 0.55
RECALL_FLOOR = 0.56


def test_pairwise_precision_and_recall_on_the_corpus() -> None:
    precision, recall, clusters = themes.evaluate_corpus()
    assert precision >= PRECISION_FLOOR, f"precision {precision:.3f}"
    assert recall >= RECALL_FLOOR, f"recall {recall:.3f}"
    assert sum(len(c) for c in clusters) == len(similarity.load_corpus())


def test_the_algorithm_never_sees_the_theme_labels() -> None:
    tickets = similarity.load_corpus()
    blind = [{**t, "labels": {**t["labels"], "theme": "hidden"}} for t in tickets]
    assert themes.corpus_features(blind) == themes.corpus_features(tickets)


def test_the_chosen_threshold_balances_precision_and_recall() -> None:
    rows = themes.sweep_corpus([0.3, similarity.JOIN_THRESHOLD, 0.4])
    balance = {threshold: min(p, r) for threshold, p, r, _ in rows}
    assert balance[similarity.JOIN_THRESHOLD] == max(balance.values())


def test_the_evaluate_command_reports_the_figures() -> None:
    result = CliRunner().invoke(
        themes_app, ["evaluate", "--no-sweep", "--no-held-out", "--no-known", "--no-new-themes"]
    )
    assert result.exit_code == 0
    assert "pairwise precision 0.566, recall 0.577" in result.output


def test_a_threshold_picked_on_one_half_holds_on_the_other() -> None:
    # The shipped threshold was chosen on the whole corpus. Picked on half the tickets and
    # measured on the rest, it is mostly the same one and its figures hold (no tuned artefact).
    result = themes.held_out_corpus([0.3, similarity.JOIN_THRESHOLD, 0.4], splits=5)
    assert len(result.picked) == 10
    assert result.picked.count(similarity.JOIN_THRESHOLD) > len(result.picked) / 2
    assert min(result.precision, result.recall) >= 0.53, result

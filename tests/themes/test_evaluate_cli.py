"""`relay themes evaluate`: the known-themes figures, for the fold seed asked."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.themes import service as themes
from service.themes.cli import themes_app


def test_the_seed_reaches_the_evaluation_and_no_theme_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds: list[int] = []

    def evaluate_known(*, seed: int = 0) -> themes.KnownEvaluation:
        seeds.append(seed)
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

    monkeypatch.setattr(themes, "evaluate_known", evaluate_known)
    result = CliRunner().invoke(
        themes_app, ["evaluate", "--no-sweep", "--no-held-out", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert seeds == [3]
    assert "seed 3): pairwise precision 0.750, recall 0.800" in result.output
    assert '"no theme" most likely for 20 ticket(s), 15 of them theme-less' in result.output

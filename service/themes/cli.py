"""`relay themes`: rebuild themes from scratch, and measure clustering on the labelled corpus."""

from __future__ import annotations

from typing import Annotated

import typer

from service.config import get_settings
from service.db import Database
from service.themes import known as known_themes
from service.themes import service as themes_service
from service.themes import similarity

themes_app = typer.Typer(help="Recurring problems (themes).", no_args_is_help=True)


@themes_app.command()
def rebuild() -> None:
    """Re-cluster every record; pinned records, merges and renames are kept."""
    from service.feedback import learning

    database = Database(get_settings().database_url)
    try:
        learning.learn_known_themes(database)  # what people placed by hand teaches it too
        with database.session() as session:
            report = themes_service.rebuild(session)
    finally:
        database.dispose()
    typer.echo(
        f"rebuilt: {report.records} record(s) re-attached, {report.pinned} pinned kept, "
        f"{report.themes} live theme(s), {report.kept_identity} kept their identity"
    )


@themes_app.command()
def refresh() -> None:
    """Re-derive every theme's trend and rank for today (run it daily, e.g. from cron)."""
    database = Database(get_settings().database_url)
    try:
        with database.session() as session:
            count = themes_service.refresh_impact(session)
    finally:
        database.dispose()
    typer.echo(f"refreshed {count} theme(s)")


@themes_app.command()
def evaluate(
    sweep: Annotated[bool, typer.Option(help="also print the threshold sweep")] = True,
    held_out: Annotated[
        bool, typer.Option(help="also pick the threshold on one half, measure on the other")
    ] = True,
    clusters: Annotated[bool, typer.Option(help="print the clusters found")] = False,
    known: Annotated[
        bool, typer.Option(help="evaluate known themes then similarity (out of fold, slow)")
    ] = True,
    new_themes: Annotated[
        bool, typer.Option(help="evaluate themes the model never learned (held out whole)")
    ] = True,
    seed: Annotated[
        int, typer.Option(help="how the tickets are dealt into folds (figures vary with it)")
    ] = 0,
    labels: Annotated[
        str,
        typer.Option(
            help="place tickets with the classifier's labels (out of fold, as attach does), "
            "the hand labels (every label right), or both"
        ),
    ] = "both",
) -> None:
    """Pairwise precision and recall of "same theme" on the hand-labelled corpus."""
    if labels not in _LABEL_SOURCES:
        raise typer.BadParameter(
            f"{labels!r}: expected one of {', '.join(_LABEL_SOURCES)}", param_hint="--labels"
        )
    for source in _LABEL_SOURCES[labels]:
        if known:
            _echo_known(themes_service.evaluate_known(seed=seed, labels=source), seed, source)
        if new_themes:
            _echo_new(themes_service.evaluate_new_themes(seed=seed, labels=source), seed, source)
    precision, recall, found = themes_service.evaluate_corpus()
    typer.echo(
        f"similarity clustering alone (hand labels), threshold {similarity.JOIN_THRESHOLD:.3f}: "
        f"pairwise precision {precision:.3f}, "
        f"recall {recall:.3f}, {len(found)} cluster(s) "
        f"({sum(1 for c in found if len(c) > 1)} with 2+ tickets)"
    )
    steps = [round(0.2 + 0.025 * i, 3) for i in range(13)]
    if sweep:
        typer.echo("similarity alone, threshold sweep:")
        typer.echo("threshold  precision  recall  clusters")
        for threshold, p, r, n in themes_service.sweep_corpus(steps):
            typer.echo(f"{threshold:9.3f}  {p:9.3f}  {r:6.3f}  {n:8d}")
    if held_out:
        result = themes_service.held_out_corpus(steps)
        picked = ", ".join(f"{t:.3f}" for t in result.picked)
        typer.echo(
            "similarity alone, held out (threshold picked on a random half, measured on the "
            f"other; "
            f"{len(result.picked)} halves): precision {result.precision:.3f}, "
            f"recall {result.recall:.3f}; picked {picked}"
        )
    if clusters:
        for cluster in sorted(found, key=lambda c: (-len(c), c)):
            typer.echo(" ".join(cluster))


_LABEL_SOURCES: dict[str, tuple[themes_service.LabelSource, ...]] = {
    "classifier": ("classifier",),
    "hand": ("hand",),
    "both": ("classifier", "hand"),
}
_READ_WITH = {
    "classifier": "labels from the classifier trained without the ticket, as attach reads a record",
    "hand": "hand labels, every label right",
}


def _echo_known(outcome: themes_service.KnownEvaluation, seed: int, source: str) -> None:
    typer.echo(
        f"known themes then similarity (what attach runs; each ticket's known theme "
        f"predicted by a model trained without it, {len(outcome.thresholds)} folds, "
        f"seed {seed}; {_READ_WITH[source]}): "
        f"pairwise precision {outcome.precision:.3f}, recall {outcome.recall:.3f}"
    )
    typer.echo(
        f"  recognised {outcome.recognised} ticket(s) as a known theme, "
        f"{outcome.recognised_right} as their own, {outcome.themeless_recognised} of no theme; "
        f'"no theme" most likely for {outcome.no_theme} ticket(s), '
        f"{outcome.no_theme_right} of them theme-less; "
        "confidence threshold picked inside each fold's training tickets: "
        + ", ".join(f"{t:.3f}" for t in outcome.thresholds)
        + f"; on all tickets {outcome.whole_corpus_threshold:.3f} "
        f"(shipped {known_themes.CONFIDENCE:.3f})"
    )


def _echo_new(fresh: themes_service.NewThemesEvaluation, seed: int, source: str) -> None:
    typer.echo(
        f"new themes (each fold of labelled themes held out whole, seed {seed}; pairs "
        f"with a held-out ticket; {_READ_WITH[source]}): pairwise precision "
        f"{fresh.precision:.3f}, recall {fresh.recall:.3f}; {fresh.recognised} of "
        f"{fresh.tickets} held-out ticket(s) taken for a known theme by the model, "
        f"{fresh.in_known} ended in one (recognised, or joined by similarity)"
    )

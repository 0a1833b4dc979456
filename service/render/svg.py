"""Sequence diagrams as inline SVG, drawn on the server (no script, no style attribute).

Used in PDFs (WeasyPrint draws inline SVG) and in page previews alike. Every label is
escaped; the drawing uses presentation attributes only, which a strict CSP allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

COLUMN_WIDTH = 150
ROW_HEIGHT = 38
HEAD_HEIGHT = 34
MARGIN = 12
FONT = "Relay Sans, DejaVu Sans, sans-serif"


@dataclass(frozen=True)
class Step:
    """One message: from actor `source` to actor `target` (indices), with a short label."""

    source: int
    target: int
    label: str


def sequence_diagram(actors: Sequence[str], steps: Sequence[Step], *, title: str) -> Markup:
    """A sequence diagram: actors side by side, one arrow per step, numbered, top to bottom."""
    width = MARGIN * 2 + COLUMN_WIDTH * len(actors)
    height = HEAD_HEIGHT + MARGIN * 2 + ROW_HEIGHT * len(steps) + 8
    parts = [_defs(), *_actors(actors, height)]
    parts += [_arrow(number, step) for number, step in enumerate(steps, start=1)]
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" role="img" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="{font}" font-size="10">'
        "<title>{title}</title>{body}</svg>"
    ).format(w=width, h=height, font=FONT, title=title, body=Markup("").join(parts))


def _x(actor: int) -> float:
    return MARGIN + COLUMN_WIDTH * actor + COLUMN_WIDTH / 2


def _defs() -> Markup:
    return Markup(
        '<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#1849a9"/></marker></defs>'
    )


def _actors(actors: Sequence[str], height: int) -> list[Markup]:
    drawn = []
    for index, name in enumerate(actors):
        x = _x(index)
        drawn.append(
            Markup(
                '<rect x="{left}" y="{top}" width="{w}" height="24" rx="4" fill="#eef4ff" '
                'stroke="#1849a9" stroke-width="0.8"/>'
                '<text x="{x}" y="{ty}" text-anchor="middle" font-weight="bold" '
                'fill="#1d2939">{name}</text>'
                '<line x1="{x}" y1="{y1}" x2="{x}" y2="{y2}" stroke="#98a2b3" '
                'stroke-width="0.8" stroke-dasharray="3 3"/>'
            ).format(
                left=x - COLUMN_WIDTH / 2 + 8,
                top=MARGIN,
                w=COLUMN_WIDTH - 16,
                x=x,
                ty=MARGIN + 16,
                name=name,
                y1=MARGIN + 24,
                y2=height - MARGIN,
            )
        )
    return drawn


def _arrow(number: int, step: Step) -> Markup:
    y = HEAD_HEIGHT + MARGIN + ROW_HEIGHT * number - 6
    x1, x2 = _x(step.source), _x(step.target)
    if step.source == step.target:  # an action within one actor: a short loop
        path = f"M{x1},{y - 10} h28 v10 h-26"
        text_x, anchor = x1 + 34, "start"
    else:
        path = f"M{x1},{y} L{x2 - 4 if x2 > x1 else x2 + 4},{y}"
        text_x, anchor = (x1 + x2) / 2, "middle"
    return Markup(
        '<path d="{path}" fill="none" stroke="#1849a9" stroke-width="1.2" '
        'marker-end="url(#arrowhead)"/>'
        '<text x="{tx}" y="{ty}" text-anchor="{anchor}" fill="#1d2939">{label}</text>'
    ).format(
        path=path,
        tx=text_x,
        ty=y - 5 if step.source != step.target else y - 12,
        anchor=anchor,
        label=escape(f"{number}. {step.label}"),
    )

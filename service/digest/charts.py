"""Server-side SVG charts for the digest: plain strings, no JavaScript, no style attributes.

The same SVG goes into the signed-in page (whose CSP forbids inline styles: only
presentation attributes and classes are used), the standalone HTML and the PDF
(WeasyPrint draws inline SVG). Every chart carries a <title> and an aria-label that
state its numbers, so it reads without sight of the bars.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#1849a9"
BAR_MUTED = "#98a2b3"
AXIS = "#d0d5dd"
TEXT = "#475467"


def _label(title: str, values: Sequence[int], labels: Sequence[str]) -> str:
    pairs = ", ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    return f"{title}. {pairs}" if pairs else f"{title}. No data."


def bar_chart(
    values: Sequence[int],
    *,
    labels: Sequence[str],
    title: str,
    width: int = 240,
    height: int = 64,
    marker: int | None = None,
    marker_label: str = "",
) -> Markup:
    """Vertical bars, oldest first, with the peak value printed; `marker` draws a dashed line
    before bar number `marker` (e.g. the week a fix shipped), bars after it in a muted tone."""
    top = max(values, default=0) or 1
    pad_top, pad_bottom = 12, 4
    slot = width / max(len(values), 1)
    bar_width = max(slot * 0.7, 1.0)
    usable = height - pad_top - pad_bottom
    parts = [
        f'<line x1="0" y1="{height - pad_bottom}" x2="{width}" y2="{height - pad_bottom}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    ]
    for index, value in enumerate(values):
        bar_height = value / top * usable
        x = index * slot + (slot - bar_width) / 2
        y = height - pad_bottom - bar_height
        fill = BAR_MUTED if marker is not None and index >= marker else BAR
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bar_height:.1f}" '
            f'fill="{fill}"/>'
        )
    parts.append(
        f'<text x="0" y="9" font-size="8" fill="{TEXT}">peak {max(values, default=0)}</text>'
    )
    if marker is not None:
        parts.append(_marker(marker * slot, height, pad_top, marker_label))
    label = escape(_label(title, values, labels))
    # Safe: only numbers, our own constants and the escaped label go into the markup.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{label}">'
        f"<title>{label}</title>{''.join(parts)}</svg>"
    )


def _marker(x: float, height: int, top: int, label: str) -> str:
    text = escape(label)
    return (
        f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{height}" stroke="{TEXT}" '
        f'stroke-width="1" stroke-dasharray="3 2"/>'
        f'<text x="{x + 3:.1f}" y="{top + 6}" font-size="8" fill="{TEXT}">{text}</text>'
    )

"""Charts drawn on the server as inline SVG: stacked horizontal bars, and a line of ratios.

Why our own SVG rather than a charting library: the figures page needs two kinds of chart, each
a few dozen lines of SVG, and must work without JavaScript, under the hall's strict pages and at
375 px. A JavaScript library (Chart.js, ECharts) would be the hall's first script that draws,
and pygal, the well-kept Python one, writes SVG meant to be animated by a script it fetches
from its own site (or else loses its tooltips), with fonts and sizes of its own that the page's
CSS cannot reach. The SVG here scales with its container (``viewBox``, width 100 %), labels
each bar with its value so that it reads without a hover, escapes every text it is given, and
is an image with a title for screen readers (``role="img"``); the page puts the same numbers in
a table beside each chart, which is what assistive technology and a copy-paste read.

Never here: figures (hall/figures.py computes them), words (the caller passes translated text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 320
"""The viewBox's width: a phone's width less the page's margins, so text is near its CSS size."""
LABEL_WIDTH: Final = 96
VALUE_WIDTH: Final = 78
ROW: Final = 22
BAR: Final = 14
TOP: Final = 40
"""Room for the title and the legend."""
LABEL_CHARS: Final = 7
"""Characters of a label shown beside a bar (CJK ones are wide); the full label is its title."""
COLOURS: Final = ("#2c6fbb", "#d9822b", "#5a9e4b")
"""Series colours, distinct for colour-blind readers (blue, orange, green) and on white."""
PLOT_HEIGHT: Final = 140


def _short(label: str, chars: int = LABEL_CHARS) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"


def _caption(title: str) -> str:
    """The chart's title, shown (the ``<title>`` is for screen readers and tooltips)."""
    return f'<text x="0" y="12" font-size="12" font-weight="bold" aria-hidden="true">{escape(title)}</text>'


def _legend(series: Sequence[str]) -> list[str]:
    parts, x = [], 0
    for index, name in enumerate(series):
        parts.append(f'<rect x="{x}" y="20" width="10" height="10" fill="{COLOURS[index]}"/>'
                     f'<text x="{x + 14}" y="29" font-size="11">{escape(name)}</text>')  # fmt: skip
        x += 14 + 12 * len(name) + 16
    return parts


def bars(chart_id: str, title: str, series: Sequence[str], rows: Sequence[tuple[str, Sequence[int]]],
         shown: Callable[[int], str], *, data_labels: bool = False) -> Markup:  # fmt: skip
    """One row per group, its values stacked left to right in ``series``' colours, the total
    written after the bar. ``data_labels``: the groups' labels are user data (session names),
    marked as such for the page's language checks."""
    height = TOP + ROW * max(len(rows), 1) + 4
    largest = max((sum(values) for _, values in rows), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    cls = ' class="data"' if data_labels else ""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-labelledby="{chart_id}-title" class="chart"><title id="{chart_id}-title">{escape(title)}</title>',
             _caption(title), *_legend(series)]  # fmt: skip
    for index, (label, values) in enumerate(rows):
        y = TOP + index * ROW
        parts.append(f'<text x="{LABEL_WIDTH - 4}" y="{y + BAR - 3}" font-size="11" text-anchor="end"{cls}>'
                     f'<title{cls}>{escape(label)}</title>{escape(_short(label))}</text>')  # fmt: skip
        x = float(LABEL_WIDTH)
        for n, value in enumerate(values):
            width = span * value / largest
            if width > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" fill="{COLOURS[n]}"/>')
            x += width
        parts.append(f'<text x="{x + 4:.1f}" y="{y + BAR - 3}" font-size="11">{escape(shown(sum(values)))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line(chart_id: str, title: str, points: Sequence[tuple[str, float | None]]) -> Markup:
    """Ratios from 0 to 1 (a rate) over groups in order, as a line with a dot per known point and
    a break where a point is unknown; gridlines at 0, 50 and 100 %, a few labels along the x axis."""
    left, right, top = 36, WIDTH - 8, 26
    height = top + PLOT_HEIGHT + 24
    step = (right - left) / max(len(points) - 1, 1)
    every = max(1, -(-len(points) // 5))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-labelledby="{chart_id}-title" class="chart"><title id="{chart_id}-title">{escape(title)}</title>',
             _caption(title)]  # fmt: skip
    for fraction in (0.0, 0.5, 1.0):
        y = top + PLOT_HEIGHT * (1 - fraction)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ccc"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{fraction:.0%}</text>')  # fmt: skip
    segment: list[str] = []
    for index, (label, value) in enumerate(points):
        x = left + index * step if len(points) > 1 else (left + right) / 2
        if index % every == 0 or index == len(points) - 1:
            # the first and the last label lean inwards, so that neither is cut at the edge
            anchor = "start" if index == 0 and len(points) > 1 else "end" if index == len(points) - 1 else "middle"
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="{anchor}">{escape(label)}</text>')
        if value is None:
            if len(segment) > 1:
                parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{COLOURS[0]}" stroke-width="2"/>')
            segment = []
            continue
        y = top + PLOT_HEIGHT * (1 - value)
        segment.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[0]}"><title>{escape(label)} '
                     f"{value:.1%}</title></circle>")  # fmt: skip
    if len(segment) > 1:
        parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{COLOURS[0]}" stroke-width="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))

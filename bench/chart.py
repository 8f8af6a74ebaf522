"""Ack latency against load, as an SVG drawn here (in the manner of ``hall/charts.py``: plain
SVG text, a ``viewBox`` that scales, every label escaped, a title for screen readers).

One chart, load on x (the paced runs at 10, 50 and 90 % of the saturated rate, and the
saturated run at 100 %), latency on a logarithmic y axis (the tail spans three decades).
Each measure has its colour (ack p50, p99, p99.9, and the server's loop lag p99); each saved
run its line style (the first solid, the second dashed), so "before" and "after" read on
one chart. The issue's targets are dotted grey marks at their loads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any, Final

WIDTH: Final = 640
HEIGHT: Final = 400
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 36, 44
LOADS: Final = (10, 50, 90, 100)
"""Per cent of the saturated rate; 100 is the saturated run itself."""
MEASURES: Final = (("ack_p50_ms", "ack p50", "#2c6fbb"), ("ack_p99_ms", "ack p99", "#d9822b"),
                   ("ack_p999_ms", "ack p99.9", "#b23a48"), ("loop_lag_p99_ms", "loop lag p99", "#5a9e4b"))  # fmt: skip
DASHES: Final = ("", ' stroke-dasharray="6 4"', ' stroke-dasharray="2 3"')
TARGETS: Final = ((10, 5.0, "p99 ≤ 5"), (50, 15.0, "p99 ≤ 15"), (50, 50.0, "p99.9 ≤ 50"))
LOW_MS, HIGH_MS = 0.1, 10_000.0


def points(summary: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """Per measure, its (load, ms) points from a ``bench/run.py`` summary."""
    levels = summary.get("load", {})
    found: dict[str, list[tuple[int, float]]] = {}
    for key, _, _ in MEASURES:
        found[key] = [(load, levels[str(load)][key]) for load in LOADS
                      if str(load) in levels and levels[str(load)].get(key)]  # fmt: skip
    return found


def _y(ms: float) -> float:
    ms = min(max(ms, LOW_MS), HIGH_MS)
    span = math.log10(HIGH_MS) - math.log10(LOW_MS)
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (math.log10(ms) - math.log10(LOW_MS)) / span)


def _x(load: int) -> float:
    """Loads at their share; the saturated run a step to the right of 90 %, where it reads apart."""
    return LEFT + (WIDTH - LEFT - RIGHT) * (110 if load == 100 else load) / 110


def latency_svg(title: str, runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The chart for ``runs``, each (its name, its summary), at most three."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
             f'aria-labelledby="latency-title" font-family="sans-serif"><title id="latency-title">{escape(title)}</title>',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>']  # fmt: skip
    bottom = HEIGHT - BOTTOM
    for decade in range(int(math.log10(LOW_MS)), int(math.log10(HIGH_MS)) + 1):
        ms = 10.0**decade
        y = _y(ms)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{ms:g} ms</text>')  # fmt: skip
    for load in LOADS:
        x = _x(load)
        label = "saturated" if load == 100 else f"{load} %"
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">{label}</text>')  # fmt: skip
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle">'
                 "load: share of the saturated rate of accepted durable bids</text>")  # fmt: skip
    for load, ms, label in TARGETS:
        x, y = _x(load), _y(ms)
        parts.append(f'<line x1="{x - 14:.1f}" y1="{y:.1f}" x2="{x + 14:.1f}" y2="{y:.1f}" stroke="#888" '
                     f'stroke-dasharray="1 2" stroke-width="2"/><text x="{x - 16:.1f}" y="{y + 4:.1f}" font-size="9" '
                     f'text-anchor="end" fill="#666">target {escape(label)}</text>')  # fmt: skip
    legend_y = TOP
    for index, (name, summary) in enumerate(runs[: len(DASHES)]):
        found = points(summary)
        dash = DASHES[index]
        for key, label, colour in MEASURES:
            line = found[key]
            coords = " ".join(f"{_x(load):.1f},{_y(ms):.1f}" for load, ms in line)
            if len(line) > 1:
                parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for load, ms in line:
                parts.append(f'<circle cx="{_x(load):.1f}" cy="{_y(ms):.1f}" r="3" fill="{colour}">'
                             f"<title>{escape(name)}: {escape(label)} at {load} %: {ms:g} ms</title></circle>")  # fmt: skip
        x = WIDTH - RIGHT + 10
        parts.append(f'<text x="{x}" y="{legend_y + 10}" font-size="11" font-weight="bold">{escape(name)}</text>')
        legend_y += 16
        for _, label, colour in MEASURES:
            parts.append(f'<line x1="{x}" y1="{legend_y + 6}" x2="{x + 24}" y2="{legend_y + 6}" stroke="{colour}" '
                         f'stroke-width="2"{dash}/><text x="{x + 30}" y="{legend_y + 10}" font-size="11">{escape(label)}</text>')  # fmt: skip
            legend_y += 15
        legend_y += 8
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

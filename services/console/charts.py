"""Charts as SVG geometry, computed here and drawn by the templates: no JavaScript, nothing
for the Content-Security-Policy to allow, and the same picture on a phone as on a desk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM = 600, 160, 36, 18


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # a CSS class: accepted, blocked, ...
    title: str  # the tooltip and the accessible text of the bar


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    y_max: float
    x_labels: tuple[tuple[float, str], ...]  # (x, text)
    summary: str  # the chart in words, for screen readers
    width: int = WIDTH
    height: int = HEIGHT
    pad_left: int = PAD_LEFT
    pad_bottom: int = PAD_BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1.0
    scale = 1.0
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    unit: str,
    label_every: int,
) -> Chart:
    """Columns of stacked series (bottom first), one per label, scaled to the tallest."""
    n = len(labels)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    y_max = nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM
    step = plot_w / max(n, 1)
    bars = []
    for i, label in enumerate(labels):
        bottom = 0.0
        for name, values in series:
            value = values[i]
            if value <= 0:
                continue
            height = plot_h * value / y_max
            bars.append(
                Bar(
                    x=round(PAD_LEFT + i * step, 2),
                    y=round(plot_h - bottom - height, 2),
                    width=round(max(step * 0.85, 0.5), 2),
                    height=round(height, 2),
                    series=name,
                    title=f"{label}: {value:g} {name} {unit}",
                )
            )
            bottom += height
    x_labels = tuple(
        (round(PAD_LEFT + i * step, 2), label)
        for i, label in enumerate(labels)
        if i % label_every == 0
    )
    words = ", ".join(f"{name} {sum(values):g}" for name, values in series)
    return Chart(title, tuple(bars), y_max, x_labels, f"{title}: {words} in total.")


def horizontal_bars(title: str, rows: Sequence[tuple[str, float]], series: str) -> Chart:
    """One bar per row, longest first as given, for rankings (codes, lag per group)."""
    height_each = 22
    height = max(len(rows), 1) * height_each + PAD_BOTTOM
    x_max = nice_ceiling(max((v for _, v in rows), default=0))
    plot_w = WIDTH - 220
    bars = tuple(
        Bar(
            x=220,
            y=i * height_each + 3,
            width=round(max(plot_w * value / x_max, 1 if value else 0), 2),
            height=height_each - 6,
            series=series,
            title=f"{label}: {value:g}",
        )
        for i, (label, value) in enumerate(rows)
    )
    summary = "; ".join(f"{label} {value:g}" for label, value in rows) or "nothing"
    return Chart(title, bars, x_max, (), f"{title}: {summary}.", height=height)

"""Charts computed here and drawn by the templates: no JavaScript, nothing for the
Content-Security-Policy to allow. Only the bars are SVG (stretched to the box, which rects
survive); every word (titles, axis ticks, labels, counts) is HTML text in the page's font,
so it never stretches, never runs past its box, and wraps instead of being cut."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The bars' own coordinates: the SVG is stretched to its box (preserveAspectRatio none).
WIDTH, HEIGHT = 600.0, 160.0


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
    """Columns over time: bars in a WIDTH × HEIGHT box, the y-axis ticks top to bottom
    (evenly spaced, 0 last), and the x labels, each at the start of an equal share."""

    title: str
    bars: tuple[Bar, ...]
    y_max: float
    y_ticks: tuple[str, ...]
    x_labels: tuple[str, ...]
    summary: str  # the chart in words, for screen readers
    width: float = WIDTH
    height: float = HEIGHT

    @property
    def gridlines(self) -> tuple[float, ...]:
        """The y of each tick's line, top to bottom."""
        n = len(self.y_ticks) - 1
        return tuple(round(self.height * i / n, 2) for i in range(n + 1)) if n > 0 else ()


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    detail: str  # words after the label (a code's message), "" for none
    value: float
    share: float  # of the scale, 0..100


@dataclass(frozen=True, slots=True)
class Ranking:
    """Horizontal bars, one per row, on a scale of `x_max` `unit`."""

    title: str
    rows: tuple[Row, ...]
    x_max: float
    unit: str
    series: str
    summary: str


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1.0
    return nice_step(value)


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^n (n any integer) at or above `value` > 0."""
    base = 10.0 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if m * base >= value * (1 - 1e-9):
            return round(m * base, 12)
    raise AssertionError("unreachable")  # 10 × base > value always


def axis(top: float, *, whole: bool, intervals: int = 4) -> tuple[float, tuple[float, ...]]:
    """A scale from 0 to at least `top` in at most `intervals` round steps, and its ticks
    (top to bottom); `whole`: steps of 1 at least (counts)."""
    step = nice_step(max(top, 1e-9) / intervals)
    if whole:
        step = max(step, 1.0)
    count = max(1, math.ceil(top / step - 1e-9))
    return step * count, tuple(round(step * i, 9) for i in range(count, -1, -1))


def _tick(value: float) -> str:
    return f"{value:g}"


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    unit: str,
    label_every: int,
    whole: bool = True,
) -> Chart:
    """Columns of stacked series (bottom first), one per label, scaled to the tallest; a
    label every `label_every` columns (which divides the count, so labels share the width
    evenly)."""
    n = len(labels)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    y_max, ticks = axis(max(totals, default=0), whole=whole)
    step = WIDTH / max(n, 1)
    bars = []
    for i, label in enumerate(labels):
        bottom = 0.0
        for name, values in series:
            value = values[i]
            if value <= 0:
                continue
            height = HEIGHT * value / y_max
            bars.append(
                Bar(
                    x=round(i * step, 2),
                    y=round(HEIGHT - bottom - height, 2),
                    width=round(max(step * 0.85, 0.5), 2),
                    height=round(height, 2),
                    series=name,
                    title=f"{label}: {value:g} {name} {unit}",
                )
            )
            bottom += height
    x_labels = tuple(label for i, label in enumerate(labels) if i % label_every == 0)
    words = ", ".join(f"{name} {sum(values):g}" for name, values in series)
    return Chart(
        title, tuple(bars), y_max, tuple(map(_tick, ticks)), x_labels, f"{title}: {words} in total."
    )


def horizontal_bars(
    title: str,
    rows: Sequence[tuple[str, str, float]],
    series: str,
    *,
    unit: str,
    at_least: float = 1,
) -> Ranking:
    """One bar per (label, detail, value) row, in the order given, for rankings (codes, lag
    per group). The scale reaches `at_least`, so a small value draws a small bar (a lag of
    1 is not a full bar)."""
    x_max = nice_ceiling(max([at_least, *(v for _, _, v in rows)]))
    shown = tuple(
        Row(label, detail, value, round(100 * value / x_max, 2)) for label, detail, value in rows
    )
    summary = "; ".join(f"{label} {value:g}" for label, _, value in rows) or "nothing"
    return Ranking(title, shown, x_max, unit, series, f"{title}: {summary}.")

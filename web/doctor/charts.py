"""Line charts of a course's results over time, drawn by the server as inline SVG (no script,
no build step): where each point and line goes, computed here; the markup is
`templates/doctor/_chart.html`. Each series differs by colour, by dash and by marker shape, so
that the chart reads without colour vision too; the numbers are in a table next to it."""

import dataclasses
from collections.abc import Sequence
from datetime import date

from core.clock import day_text

# Drawing units: a phone shows the chart at about three quarters of this width, so the text
# stays readable there without a second drawing.
WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 38, 12, 14, 40
# Colour, dash pattern, marker: four series that stay apart in greyscale.
STYLES = [
    ("#1f5fa8", "", "circle"),
    ("#b42318", "7 4", "square"),
    ("#1e7a3c", "2 4", "triangle"),
    ("#6b3fa0", "10 3 2 3", "diamond"),
]


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: int
    day: date
    label: str  # what the point says when pointed at: "12 Mar 2025, review: 7"


@dataclasses.dataclass(frozen=True)
class Series:
    key: str
    label: str
    color: str
    dash: str
    marker: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(
            f"{'M' if n == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for n, p in enumerate(self.points)
        )


@dataclasses.dataclass(frozen=True)
class Tick:
    at: float
    label: str
    anchor: str = "middle"  # how the label stands on its place (SVG text-anchor)


@dataclasses.dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    description: str
    series: tuple[Series, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


@dataclasses.dataclass(frozen=True)
class Observation:
    """One visit's value of each series: the day, what the visit was, the values by key."""

    day: date
    what: str
    values: dict[str, int]


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[tuple[str, str]],
    observations: Sequence[Observation],
    lowest: int,
    highest: int,
    step: int = 1,
) -> LineChart:
    """A chart of `series` (key, label) over the observations' days, on a vertical scale from
    `lowest` to `highest` with a tick every `step`. Days are placed by their distance in time;
    a single day stands in the middle."""
    days = [o.day for o in observations]
    first, last = min(days), max(days)
    span = (last - first).days

    def x(day: date) -> float:
        if span == 0:
            return (LEFT + WIDTH - RIGHT) / 2
        return LEFT + (WIDTH - RIGHT - LEFT) * (day - first).days / span

    def y(value: float) -> float:
        return TOP + (HEIGHT - BOTTOM - TOP) * (highest - value) / (highest - lowest)

    drawn = []
    for (key, label), (color, dash, marker) in zip(series, STYLES, strict=False):
        points = tuple(
            Point(x(o.day), y(o.values[key]), o.values[key], o.day,
                  f"{day_text(o.day)}, {o.what}: {label} {o.values[key]}")
            for o in observations
        )  # fmt: skip
        drawn.append(Series(key, label, color, dash, marker, points))
    y_ticks = tuple(Tick(y(value), str(value)) for value in range(lowest, highest + 1, step))
    x_ticks = tuple(Tick(x(day), day_text(day)) for day in sorted(set(days)))
    return LineChart(chart_id, title, description, tuple(drawn), y_ticks, _spread(x_ticks))


def _spread(ticks: tuple[Tick, ...], *, room: float = 110) -> tuple[Tick, ...]:
    """The day labels that fit under the axis without overlapping (the first, the last, and
    those at least `room` apart), so that close visits do not print over each other; the
    first and the last stand inside the drawing."""
    if len(ticks) == 1:
        return ticks
    first, *middle, last = ticks
    kept = [dataclasses.replace(first, anchor="start")]
    for tick in middle:
        if tick.at - kept[-1].at >= room and last.at - tick.at >= room:
            kept.append(tick)
    return (*kept, dataclasses.replace(last, anchor="end"))

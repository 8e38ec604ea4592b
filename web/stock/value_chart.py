"""The stock board's chart of the value written off each month: bars drawn by the server as
SVG (`templates/stock/_value_chart.html`), each with its month and value in words, and the
same numbers in a table beside it."""

import dataclasses
from decimal import Decimal

from inventory.value import MonthWrittenOff

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 628, 16, 196


@dataclasses.dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # under the bar
    title: str  # the bar in words


@dataclasses.dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclasses.dataclass(frozen=True)
class ValueChart:
    id: str
    title: str
    description: str
    bars: list[Bar]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    bottom: int = BOTTOM


def money_text(value: Decimal) -> str:
    return f"{value:,.2f}"


def written_off_chart(months: list[MonthWrittenOff]) -> ValueChart:
    top_value = max((m.value for m in months), default=Decimal(0))
    scale_top = top_value if top_value > 0 else Decimal(1)
    slot = (RIGHT - LEFT) / max(len(months), 1)
    bars = []
    for n, month in enumerate(months):
        height = float(month.value / scale_top) * (BOTTOM - TOP)
        name = f"{month.month:%b}" + (
            f" {month.month:%Y}" if n == 0 or month.month.month == 1 else ""
        )
        bars.append(
            Bar(
                x=LEFT + n * slot + slot * 0.15,
                y=BOTTOM - height,
                width=slot * 0.7,
                height=height,
                label=name,
                title=f"{month.month:%B %Y}: {money_text(month.value)} written off",
            )
        )
    ticks = [
        Tick(BOTTOM - fraction * (BOTTOM - TOP), money_text(scale_top * Decimal(fraction)))
        for fraction in (0, 0.5, 1)
    ] if top_value > 0 else [Tick(BOTTOM, money_text(Decimal(0)))]  # fmt: skip
    total = sum((m.value for m in months), Decimal(0))
    first, last = months[0].month, months[-1].month
    return ValueChart(
        id="written-off-chart",
        title="Value written off per month",
        description=(
            f"Stock disposed of from {first:%B %Y} to {last:%B %Y}: {money_text(total)} in all; "
            f"the most in one month {money_text(top_value)}."
        ),
        bars=bars,
        y_ticks=ticks,
    )

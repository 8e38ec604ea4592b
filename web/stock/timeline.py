"""The expiry timeline of the stock board, drawn as server-side SVG: one row per product, one
column per week from today to the horizon, a cell for the quantity reaching its last day of use
that week, coloured by how soon that is. The sums come from SQL (`inventory.stock.
expiry_timeline`); no script, no library: the template places the shapes this module measures."""

import dataclasses
from datetime import date, timedelta

from core.clock import day_text
from inventory.expiry import Bands, Week
from inventory.models import Product
from inventory.stock import ExpiryTimeline
from web.pages import quantity_text

WIDTH = 1000
LABEL_WIDTH = 260
RIGHT_MARGIN = 10
ROW_HEIGHT = 28
AXIS_HEIGHT = 40


@dataclasses.dataclass(frozen=True)
class Cell:
    product: Product
    week: Week
    x: float
    y: int
    width: float
    quantity: str
    lots: int

    @property
    def labelled(self) -> bool:
        """Whether the quantity fits inside the cell (its title always says it)."""
        return self.width >= 7 * len(self.quantity) + 4

    @property
    def urgency(self) -> str:  # urgent | soon | later
        return self.week.urgency

    @property
    def title(self) -> str:
        lots = "1 lot" if self.lots == 1 else f"{self.lots} lots"
        return (
            f"{self.product.name}: {self.quantity} {self.product.unit} in {lots} reaching "
            f"the last day of use from {day_text(self.week.first_day)} "
            f"to {day_text(self.week.last_day)}"
        )


@dataclasses.dataclass(frozen=True)
class Row:
    product: Product
    y: int


@dataclasses.dataclass(frozen=True)
class Tick:
    x: float
    day: date
    label: str


@dataclasses.dataclass(frozen=True)
class Timeline:
    rows: list[Row]
    cells: list[Cell]
    ticks: list[Tick]
    height: int
    hidden: int  # products with lots within the horizon beyond those drawn
    x0: int = LABEL_WIDTH
    width: int = WIDTH


def build_timeline(timeline: ExpiryTimeline, as_of: date, bands: Bands) -> Timeline:
    """Cells for each product's weeks on an axis from `as_of` to the bands' horizon, with a
    tick at each alert day."""
    span = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    per_day = span / (bands.horizon + 1)
    rows, cells = [], []
    for number, line in enumerate(timeline.rows):
        y = AXIS_HEIGHT + number * ROW_HEIGHT
        rows.append(Row(line.product, y))
        for week, quantity, lots in zip(timeline.weeks, line.quantities, line.lots, strict=True):
            if not lots:
                continue
            start = (week.first_day - as_of).days
            days = (week.last_day - week.first_day).days + 1
            cells.append(
                Cell(
                    product=line.product,
                    week=week,
                    x=round(LABEL_WIDTH + start * per_day + 1, 1),
                    y=y,
                    width=round(days * per_day - 2, 1),
                    quantity=quantity_text(quantity),
                    lots=lots,
                )
            )
    ticks = [
        Tick(
            x=round(LABEL_WIDTH + days * per_day, 1),
            day=as_of + timedelta(days=days),
            label="today" if days == 0 else f"+{days} d",
        )
        for days in (0, *bands.alert_days)
    ]
    height = AXIS_HEIGHT + max(len(rows), 1) * ROW_HEIGHT + 10
    return Timeline(rows, cells, ticks, height, hidden=timeline.products - len(rows))

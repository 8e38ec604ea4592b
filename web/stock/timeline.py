"""The expiry timeline of the stock board, drawn as server-side SVG: one row per lot, a bar
from today to the lot's last day of use, coloured by how soon that is. No script, no library:
the template places the shapes this module measures."""

import dataclasses
from datetime import date, timedelta

from core.clock import day_text
from inventory.models import Lot
from web.pages import quantity_text

WIDTH = 1000
LABEL_WIDTH = 300
RIGHT_MARGIN = 30
ROW_HEIGHT = 28
AXIS_HEIGHT = 40
MAX_ROWS = 40


@dataclasses.dataclass(frozen=True)
class Bands:
    """The clinic's expiry alert days read as the board's colours: urgent at or under the last
    alert, soon at or under the one before it, and the first alert the board's horizon."""

    alert_days: tuple[int, ...]  # most urgent first

    @property
    def urgent(self) -> int:
        return self.alert_days[0]

    @property
    def soon(self) -> int | None:
        return self.alert_days[1] if len(self.alert_days) > 1 else None

    @property
    def horizon(self) -> int:
        return self.alert_days[-1]

    def urgency(self, days_left: int) -> str:
        if days_left <= self.urgent:
            return "urgent"
        if self.soon is not None and days_left <= self.soon:
            return "soon"
        return "later"


@dataclasses.dataclass(frozen=True)
class Bar:
    lot: Lot
    y: int
    width: float
    days_left: int
    urgency: str  # urgent | soon | later

    @property
    def title(self) -> str:
        days = "today" if self.days_left == 0 else f"in {self.days_left} days"
        return (
            f"{self.lot.product.name}, lot {self.lot.lot_number}: last day of use "
            f"{day_text(self.lot.effective_expiry)} ({days}), "
            f"{quantity_text(self.lot.quantity_on_hand)} {self.lot.product.unit} on hand"
        )


@dataclasses.dataclass(frozen=True)
class Tick:
    x: float
    day: date
    label: str


@dataclasses.dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    ticks: list[Tick]
    height: int
    hidden: int  # lots beyond MAX_ROWS, listed in the table only
    x0: int = LABEL_WIDTH
    width: int = WIDTH


def build_timeline(lots: list[Lot], as_of: date, bands: Bands) -> Timeline:
    """Bars for `lots` (already in expiry order) on an axis from `as_of` to the bands'
    horizon, with a tick at each alert day."""
    span = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    per_day = span / bands.horizon
    bars = []
    for row, lot in enumerate(lots[:MAX_ROWS]):
        days_left = (lot.effective_expiry - as_of).days
        bars.append(
            Bar(
                lot=lot,
                y=AXIS_HEIGHT + row * ROW_HEIGHT,
                # A lot on its last day still gets a visible sliver.
                width=round(max(days_left * per_day, 4), 1),
                days_left=days_left,
                urgency=bands.urgency(days_left),
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
    height = AXIS_HEIGHT + max(len(bars), 1) * ROW_HEIGHT + 10
    return Timeline(bars, ticks, height, hidden=max(len(lots) - MAX_ROWS, 0))

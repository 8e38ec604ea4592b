"""The expiry timeline of the stock board, drawn as server-side SVG: one row per lot, a bar
from today to the lot's last day of use, coloured by how soon that is. No script, no library:
the template places the shapes this module measures."""

import dataclasses
from datetime import date, timedelta

from inventory.models import Lot
from web.pages import quantity_text

WIDTH = 1000
LABEL_WIDTH = 300
RIGHT_MARGIN = 30
ROW_HEIGHT = 28
AXIS_HEIGHT = 40
TICK_DAYS = (0, 7, 30, 60, 90)
MAX_ROWS = 40
# Days left at or under which a lot is urgent (the last alert threshold) or soon.
URGENT_DAYS = 7
SOON_DAYS = 30


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
            f"{self.lot.effective_expiry.isoformat()} ({days}), "
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


def urgency(days_left: int) -> str:
    if days_left <= URGENT_DAYS:
        return "urgent"
    if days_left <= SOON_DAYS:
        return "soon"
    return "later"


def build_timeline(lots: list[Lot], as_of: date, horizon_days: int) -> Timeline:
    """Bars for `lots` (already in expiry order) on an axis from `as_of` to `as_of +
    horizon_days`."""
    span = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    per_day = span / horizon_days
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
                urgency=urgency(days_left),
            )
        )
    ticks = [
        Tick(
            x=round(LABEL_WIDTH + days * per_day, 1),
            day=as_of + timedelta(days=days),
            label="today" if days == 0 else f"+{days} d",
        )
        for days in TICK_DAYS
        if days <= horizon_days
    ]
    height = AXIS_HEIGHT + max(len(bars), 1) * ROW_HEIGHT + 10
    return Timeline(bars, ticks, height, hidden=max(len(lots) - MAX_ROWS, 0))

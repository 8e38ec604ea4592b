"""When a lot may still be used: expiry dates as printed, the effective expiry of an opened
vial, and usability on a clinic day (SPEC 3.4).

Every boundary is inclusive: a lot is usable on its expiry day and on the last day of its
opened life, and no later. Days are the clinic's days (CLINIC_TIMEZONE), never the server's.
"""

import calendar
import dataclasses
import re
from datetime import date, datetime, timedelta

from flask import current_app

from core.clock import clinic_date
from inventory.models import Lot, LotStatus

_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_MONTH_YEAR = re.compile(r"^(\d{2})/(\d{4})$")


class ExpiryFormatError(ValueError):
    """An expiry date that cannot be read."""


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_expiry(text: str) -> tuple[date, bool]:
    """The expiry date written as `YYYY-MM-DD`, or month-only as `YYYY-MM` or `MM/YYYY`, and
    whether it was month-only. A month-only expiry means the month's last day: the product is
    good through the whole month printed on the box."""
    text = text.strip()
    try:
        if match := _FULL_DATE.match(text):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day), False
        if match := _YEAR_MONTH.match(text):
            year, month = int(match[1]), int(match[2])
            return last_day_of_month(year, month), True
        if match := _MONTH_YEAR.match(text):
            month, year = int(match[1]), int(match[2])
            return last_day_of_month(year, month), True
    except ValueError:
        raise ExpiryFormatError(f"{text!r} is not a real date.") from None
    raise ExpiryFormatError(f"{text!r} is not a date (YYYY-MM-DD, YYYY-MM or MM/YYYY).")


def effective_expiry(
    expiry_date: date, opened_at: datetime | None, *, days_after_opening: int | None
) -> date:
    """The last day a lot may be used: its expiry date, or the last day of its opened life
    when that comes first. A vial opened on 1 January with 28 days lasts through 28 January:
    the opening day is day one."""
    if opened_at is None or days_after_opening is None:
        return expiry_date
    last_opened_day = clinic_date(opened_at) + timedelta(days=days_after_opening - 1)
    return min(expiry_date, last_opened_day)


def refresh_effective_expiry(lot: Lot, days_after_opening: int | None) -> None:
    """Recompute the stored effective expiry after its expiry date, its opening or its
    product's days after opening changed."""
    lot.effective_expiry = effective_expiry(
        lot.expiry_date, lot.opened_at, days_after_opening=days_after_opening
    )


# First expiring, first out; on a tie, the earliest received.
FEFO_ORDER = (Lot.effective_expiry, Lot.received_at, Lot.id)


def usable_lot_conditions(day: date) -> tuple:
    """The SQL twin of `usable_on`, for queries over many lots."""
    return (
        Lot.status == LotStatus.AVAILABLE,
        Lot.quantity_on_hand > 0,
        Lot.effective_expiry >= day,
    )


def usable_on(lot: Lot, day: date) -> bool:
    """Whether the lot may be handed out on that clinic day."""
    return (
        lot.status == LotStatus.AVAILABLE
        and lot.quantity_on_hand > 0
        and day <= lot.effective_expiry
    )


def expiry_alert_days() -> tuple[int, ...]:
    """The clinic's EXPIRY_ALERT_DAYS, most urgent first: the days before a lot's last day at
    which the scan raises an alert, and so the stock board's horizon and colour bands."""
    return tuple(sorted(current_app.config["EXPIRY_ALERT_DAYS"]))


@dataclasses.dataclass(frozen=True)
class Bands:
    """The clinic's expiry alert days read as the stock board's colours: urgent at or under the
    last alert, soon at or under the one before it, and the first alert the board's horizon."""

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
        """urgent, soon or later, for a lot `days_left` days before its last day of use."""
        if days_left <= self.urgent:
            return "urgent"
        if self.soon is not None and days_left <= self.soon:
            return "soon"
        return "later"


def expiry_bands() -> Bands:
    return Bands(expiry_alert_days())


@dataclasses.dataclass(frozen=True)
class Week:
    """One column of the board's timeline: up to seven days from `first_day` to `last_day`
    (both included), the `index`-th column from the board's day, all its days in one band."""

    index: int
    first_day: date
    last_day: date
    urgency: str


def expiry_weeks(as_of: date, bands: Bands) -> list[Week]:
    """The weeks from `as_of` through the bands' horizon, week 0 holding the lots whose last
    day of use is `as_of` to six days later. A week that a band's end falls inside is cut in
    two there, so that a column has one colour: with bands of 7 and 30 days, day 7 is a
    column of its own (urgent) and days 8 to 13 another (soon)."""
    band_ends = (bands.urgent, bands.soon) if bands.soon is not None else (bands.urgent,)
    starts = sorted(
        {*range(0, bands.horizon + 1, 7), *(end + 1 for end in band_ends if end < bands.horizon)}
    )
    ends = [start - 1 for start in starts[1:]] + [bands.horizon]
    return [
        Week(
            index=index,
            first_day=as_of + timedelta(days=start),
            last_day=as_of + timedelta(days=end),
            urgency=bands.urgency(start),
        )
        for index, (start, end) in enumerate(zip(starts, ends, strict=True))
    ]

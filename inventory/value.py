"""What the stock is worth and what was thrown away: each lot at its own unit cost (its order
line's price, or the cost given at its receipt), else at its product's last one.

The stock's value sums the lots on hand (released or in quarantine) in one statement; the
value written off sums the `dispose` movements of each of the last months (expired, damaged
or recalled stock thrown away), one statement over `ix_movements_kind_created_at`. Costs and
quantities are exact millionths; their products are summed as floating point (a sum of
money to show, never booked back into the ledger), so that no 64-bit column overflows.
"""

import dataclasses
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Float, case, cast, func, select

from core.clock import clinic_timezone
from core.database import db
from inventory.models import Lot, LotStatus, Movement, MovementKind, Product

# How many months the written-off chart shows, the current one last.
WRITE_OFF_MONTHS = 12
_MILLIONTHS_SQUARED = 10**12


@dataclasses.dataclass(frozen=True)
class StockValue:
    value: Decimal
    # Lots on hand whose cost nobody knows (counted as nothing).
    lots_without_cost: int


@dataclasses.dataclass(frozen=True)
class MonthWrittenOff:
    month: date  # its first day
    value: Decimal


def _unit_cost():
    return func.coalesce(Lot.unit_cost, Product.unit_cost)


def _money(raw_quantity, raw_cost):
    # The raw columns (millionths), multiplied in SQL as floating point.
    return cast(raw_quantity, Float) * cast(raw_cost, Float)


def stock_value(*, site_ids: list[int] | None = None) -> StockValue:
    """What the lots on hand at the sites (None: every site) cost."""
    cost = _unit_cost()
    stmt = (
        select(
            func.coalesce(func.sum(_money(Lot.quantity_on_hand, cost)), 0.0),
            func.count().filter(cost.is_(None)),
        )
        .select_from(Lot)
        .join(Product, Product.id == Lot.product_id)
        .where(
            Lot.status.in_((LotStatus.AVAILABLE, LotStatus.QUARANTINE)),
            Lot.quantity_on_hand > 0,
        )
    )
    if site_ids is not None:
        stmt = stmt.where(Lot.site_id.in_(site_ids))
    total, unknown = db.session.execute(stmt).one()
    return StockValue(_rounded(total), unknown)


def month_starts(as_of: date, months: int = WRITE_OFF_MONTHS) -> list[date]:
    """The first day of each of the `months` months ending with the month of `as_of`."""
    starts = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def written_off_by_month(
    as_of: date, *, months: int = WRITE_OFF_MONTHS, site_ids: list[int] | None = None
) -> list[MonthWrittenOff]:
    """The value of what was disposed of in each month (the clinic's calendar months), the
    oldest first: one grouped statement."""
    starts = month_starts(as_of, months)
    zone = clinic_timezone()
    bounds = [datetime.combine(day, time(), zone) for day in starts]
    last_month = starts[-1]
    following = date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1)
    end = datetime.combine(following, time(), zone)
    index = case(
        *[(Movement.created_at < bound, n - 1) for n, bound in enumerate(bounds[1:], start=1)],
        else_=len(bounds) - 1,
    ).label("month")
    rows = (
        select(index, _money(-Movement.quantity, _unit_cost()).label("value"))
        .select_from(Movement)
        .join(Lot, Lot.id == Movement.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(
            Movement.kind == MovementKind.DISPOSE,
            Movement.created_at >= bounds[0],
            Movement.created_at < end,
            *(() if site_ids is None else (Lot.site_id.in_(site_ids),)),
        )
        .subquery()
    )
    totals = dict(
        db.session.execute(
            select(rows.c.month, func.sum(rows.c.value)).group_by(rows.c.month)
        ).all()
    )
    return [MonthWrittenOff(day, _rounded(totals.get(n))) for n, day in enumerate(starts)]


def _rounded(raw) -> Decimal:
    if raw is None:
        return Decimal(0)
    return (Decimal(str(raw)) / _MILLIONTHS_SQUARED).quantize(Decimal("0.01"))

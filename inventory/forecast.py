"""The demand forecast (SPEC 3.7): week by week, the doses planned sessions need against the
serum stock still usable on each session's date.

Weeks start on `as_of` (week 1 is `as_of` to `as_of + 6`), so a forecast asked on a Thursday
looks seven days ahead at once, not at a half week. Stock is allocated to sessions in date
order, first-expiring lot first, as the clinic will use it: doses used in week 1 are gone for
week 2, and a lot that expires before a session's date does not count for it.

Inventory does not know what the clinic plans: the demand is handed in (the clinic's
`planned_demand`), so that this module reads only stock. Everything is set-based: one query
for the serum products, one for their usable lots, then a walk over aggregated rows.
"""

import dataclasses
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.database import db
from core.errors import Conflict, Invalid
from formulary.models import Serum
from inventory.expiry import usable_lot_conditions
from inventory.models import Lot, Product, ProductKind
from inventory.purchase_orders import arrivals
from inventory.serum_stock import stock_as_doses

MAX_WEEKS = 52


@dataclasses.dataclass(frozen=True)
class Demand:
    """Doses of a serum planned sessions need on one day."""

    serum_id: int
    day: date
    doses: Decimal


@dataclasses.dataclass(frozen=True)
class WeekForecast:
    week_start: date
    # Doses the week's planned sessions need.
    needed: Decimal
    # Doses the week's sessions can have: what was allocated to them plus what is left and
    # still usable on the week's last session day (on its first day when it has none). Less
    # than `needed` exactly when a session of the week goes short.
    usable: Decimal


@dataclasses.dataclass(frozen=True)
class ProductForecast:
    """One serum's forecast. A serum's products are pooled, as a session may take from any of
    them; `product_id` is the first of them (None when no product stocks the serum at all)."""

    product_id: int | None
    serum_id: int
    product_ids: tuple[int, ...]
    weeks: tuple[WeekForecast, ...]
    # Doses submitted purchase orders still bring: each counts from the day it is due.
    on_order: Decimal = Decimal(0)

    @property
    def shortfall_week(self) -> date | None:
        return next((w.week_start for w in self.weeks if w.needed > w.usable), None)


@dataclasses.dataclass
class _Stock:
    last_day: date
    doses: Decimal
    # Stock on order is there from the day it is due.
    first_day: date = date.min


def forecast_window(weeks: int, as_of: date) -> tuple[date, date]:
    """The first and last day (inclusive) the forecast covers."""
    return as_of, as_of + timedelta(days=7 * weeks - 1)


def forecast(
    demand: list[Demand],
    weeks: int,
    *,
    as_of: date,
    planned_only: bool = False,
    site_ids: list[int] | None = None,
) -> list[ProductForecast]:
    """Every serum that is stocked or planned, week by week; with `planned_only`, only the
    serums planned sessions need (the stock of the others is not even read). The stock is
    that of the sites given (None: every site), the demand that of their sessions."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise Invalid({"weeks": [f"A forecast covers 1 to {MAX_WEEKS} weeks."]})
    week_starts = [as_of + timedelta(weeks=k) for k in range(weeks)]
    first, last = forecast_window(weeks, as_of)
    needs: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for row in sorted(demand, key=lambda d: (d.serum_id, d.day)):
        if first <= row.day <= last:
            needs[row.serum_id].append((row.day, row.doses))
    only = set(needs) if planned_only else None
    products = _serum_products(only)
    stock = _usable_stock(as_of, only, site_ids) if products else {}
    coming = _on_order(products, as_of, site_ids) if products else {}
    serum_ids = sorted(set(needs) | set(products.values()))
    by_serum: dict[int, list[int]] = defaultdict(list)
    for product_id, serum_id in sorted(products.items()):
        by_serum[serum_id].append(product_id)
    forecasts = []
    for serum_id in serum_ids:
        product_ids = tuple(by_serum.get(serum_id, ()))
        lots = [lot for product_id in product_ids for lot in stock.get(product_id, ())]
        lots.sort(key=lambda lot: lot[0])
        shelf = [_Stock(last_day, doses) for _, last_day, doses in lots]
        ordered = sorted(arrival for pid in product_ids for arrival in coming.get(pid, ()))
        shelf += [_Stock(date.max, doses, first_day=day) for day, doses in ordered]
        forecasts.append(
            ProductForecast(
                product_id=product_ids[0] if product_ids else None,
                serum_id=serum_id,
                product_ids=product_ids,
                weeks=tuple(_walk(week_starts, needs.get(serum_id, []), shelf)),
                on_order=sum((doses for _, doses in ordered), Decimal(0)),
            )
        )
    return sorted(forecasts, key=lambda f: (f.product_id is None, f.product_id or 0, f.serum_id))


def shortfalls(demand: list[Demand], weeks: int, *, as_of: date) -> list[tuple[int | None, date]]:
    """(product_id, first short week) of every serum that goes short."""
    return [
        (f.product_id, f.shortfall_week)
        for f in forecast(demand, weeks, as_of=as_of, planned_only=True)
        if f.shortfall_week is not None
    ]


def _walk(
    week_starts: list[date], needs: list[tuple[date, Decimal]], shelf: list[_Stock]
) -> list[WeekForecast]:
    """Allocate each day's need in date order, earliest-expiring usable stock first."""
    result = []
    index = 0
    for week_start in week_starts:
        week_end = week_start + timedelta(days=6)
        needed = allocated = Decimal(0)
        last_session_day = week_start
        while index < len(needs) and needs[index][0] <= week_end:
            day, doses = needs[index]
            needed += doses
            allocated += _allocate(shelf, day, doses)
            last_session_day = day
            index += 1
        left = sum(
            (s.doses for s in shelf if s.first_day <= last_session_day <= s.last_day),
            start=Decimal(0),
        )
        result.append(WeekForecast(week_start, needed, allocated + left))
    return result


def _allocate(shelf: list[_Stock], day: date, doses: Decimal) -> Decimal:
    missing = doses
    for stock in shelf:
        if missing <= 0:
            break
        if stock.last_day < day or stock.first_day > day or stock.doses <= 0:
            continue
        taken = min(stock.doses, missing)
        stock.doses -= taken
        missing -= taken
    return doses - missing


def _serum_products(serum_ids: set[int] | None = None) -> dict[int, int]:
    """product id -> serum id, for every serum product (of these serums, when given)."""
    stmt = select(Product.id, Product.serum_id).where(Product.kind == ProductKind.SERUM)
    if serum_ids is not None:
        stmt = stmt.where(Product.serum_id.in_(sorted(serum_ids)))
    return dict(db.session.execute(stmt).all())


def _on_order(
    products: dict[int, int], as_of: date, site_ids: list[int] | None
) -> dict[int, list[tuple[date, Decimal]]]:
    """product id -> [(day due, doses)] of what submitted orders still bring of the serum
    products: one grouped query, and one for the products' units and dose volumes."""
    arriving = arrivals(sorted(products), as_of=as_of, site_ids=site_ids)
    if not arriving:
        return {}
    units = {
        product_id: (unit, volume)
        for product_id, unit, volume in db.session.execute(
            select(Product.id, Product.unit, Serum.dose_volume_ml)
            .join(Serum, Serum.id == Product.serum_id)
            .where(Product.id.in_(sorted(arriving)))
        )
    }
    found: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for product_id, rows in arriving.items():
        unit, volume = units[product_id]
        for day, quantity in rows:
            try:
                found[product_id].append((day, stock_as_doses(quantity, volume, unit=unit)))
            except Conflict:
                continue  # counted in mg: no doses
    return found


def _usable_stock(
    as_of: date, serum_ids: set[int] | None = None, site_ids: list[int] | None = None
) -> dict[int, list[tuple[tuple, date, Decimal]]]:
    """product id -> [(FEFO key, last usable day, doses)] of the serum products' lots (of these
    serums, when given) usable on `as_of` or later."""
    stmt = (
        select(
            Lot.id,
            Lot.product_id,
            Lot.effective_expiry,
            Lot.received_at,
            Lot.quantity_on_hand,
            Serum.dose_volume_ml,
            Product.unit,
        )
        .join(Product, Product.id == Lot.product_id)
        .join(Serum, Serum.id == Product.serum_id)
        .where(Product.kind == ProductKind.SERUM, *usable_lot_conditions(as_of))
    )
    if serum_ids is not None:
        stmt = stmt.where(Product.serum_id.in_(sorted(serum_ids)))
    if site_ids is not None:
        stmt = stmt.where(Lot.site_id.in_(site_ids))
    rows = db.session.execute(stmt).all()
    stock: dict[int, list] = defaultdict(list)
    for lot_id, product_id, last_day, received_at, on_hand, volume, unit in rows:
        try:
            doses = stock_as_doses(on_hand, volume, unit=unit)
        except Conflict:
            continue  # a serum product counted in mg holds no doses the clinic can use
        stock[product_id].append(((last_day, received_at, lot_id), last_day, doses))
    return stock

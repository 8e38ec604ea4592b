"""What the stock board shows a pharmacist on a given day: lots about to expire, usable lots
already past their last day, lots waiting for release from quarantine, recalled lots still on
the shelf, and products whose usable stock is below their reorder point; and the list of every
product with what it has on hand and what of that is usable.

The board is bounded whatever the number of lots: each of its lists holds the `BOARD_LOTS`
most urgent lots and the count of them all (the lot list pages through the rest), and its
timeline is the quantity reaching its last day of use per product and week, summed in SQL.
Each answer is one set-based query (the board does not grow a query per product or lot), read
through the indexes on `lots` (`ix_lots_status_effective_expiry_quantity`, `ix_lots_fefo_quantity`,
which hold the quantity on hand: the sums read the index alone).
"""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import contains_eager

from core.database import db
from inventory.expiry import Bands, Week, expiry_weeks, usable_lot_conditions
from inventory.models import Lot, LotStatus, Product, ProductKind

# How many lots each list of the board shows, the most urgent first; and how many products its
# timeline draws, those whose first lot reaches its last day soonest.
BOARD_LOTS = 50
TIMELINE_PRODUCTS = 30


@dataclasses.dataclass(frozen=True)
class StockLevel:
    product: Product
    usable: Decimal

    @property
    def missing(self) -> Decimal:
        return self.product.reorder_point - self.usable


ON_THE_SHELF = (Lot.status == LotStatus.AVAILABLE, Lot.quantity_on_hand > 0)


def _on_the_shelf():
    """Lots that could still be handed out as far as their status and stock go."""
    return select(Lot).join(Lot.product).options(contains_eager(Lot.product)).where(*ON_THE_SHELF)


def _lots(stmt: Select, limit: int | None) -> list[Lot]:
    return list(db.session.scalars(stmt if limit is None else stmt.limit(limit)))


def _reaching_last_day(first_day: date, last_day: date) -> tuple:
    """Lots on the shelf whose last day of use falls from `first_day` to `last_day`."""
    return (*ON_THE_SHELF, Lot.effective_expiry >= first_day, Lot.effective_expiry <= last_day)


def expiring_lots(as_of: date, within_days: int, *, limit: int | None = None) -> list[Lot]:
    """Usable lots whose last day of use falls within `within_days` of `as_of` (both days
    included), earliest first (the most urgent: FEFO's order), each with its product loaded;
    the first `limit` of them when given."""
    last_day = as_of + timedelta(days=within_days)
    stmt = (
        _on_the_shelf()
        .where(Lot.effective_expiry >= as_of, Lot.effective_expiry <= last_day)
        .order_by(Lot.effective_expiry, Lot.received_at, Lot.id)
    )
    return _lots(stmt, limit)


def expired_on_shelf(as_of: date, *, limit: int | None = None) -> list[Lot]:
    """Available lots with stock whose last day of use is past: FEFO no longer hands them out,
    and they are waiting to be disposed of. The longest past first."""
    stmt = (
        _on_the_shelf().where(Lot.effective_expiry < as_of).order_by(Lot.effective_expiry, Lot.id)
    )
    return _lots(stmt, limit)


def short_products(as_of: date):
    """Products whose usable quantity on `as_of` is below their reorder point (> 0), as a
    subquery (product_id, usable, reorder_point). Each product's usable lots are summed from
    `ix_lots_fefo_quantity` alone, one index range per product holding its usable lots only
    (joining the products to every lot carried each lot through the join, five times slower at
    a million lots). The sums are kept (a materialized CTE, inside the subquery so that an
    INSERT from it still starts with INSERT): the filter on them would otherwise sum a short
    product's lots a second time."""
    usable = (
        select(func.coalesce(func.sum(Lot.quantity_on_hand), 0))
        .where(Lot.product_id == Product.id, *usable_lot_conditions(as_of))
        .scalar_subquery()
    )
    levels = (
        select(
            Product.id.label("product_id"),
            usable.label("usable"),
            Product.reorder_point.label("reorder_point"),
        )
        .where(Product.reorder_point > 0)
        .cte("stock_levels", nesting=True)
        .prefix_with("MATERIALIZED")
    )
    return select(levels).where(levels.c.usable < levels.c.reorder_point).subquery()


def low_stock(as_of: date, *, limit: int | None = None) -> list[StockLevel]:
    """Products whose usable quantity on `as_of` is below their reorder point (a product with
    no usable lot at all counts as zero), by name; the first `limit` of them when given.
    Quarantined, recalled, disposed and expired lots are not stock a clinic can use."""
    return _low_stock_and_count(as_of, limit)[0]


def _low_stock_and_count(as_of: date, limit: int | None) -> tuple[list[StockLevel], int]:
    """`low_stock` and how many products are short in all, from one pass over the lots."""
    short = short_products(as_of)
    stmt = (
        select(Product, short.c.usable, func.count().over().label("short"))
        .join(short, short.c.product_id == Product.id)
        .order_by(Product.name, Product.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    found = db.session.execute(stmt).all()
    levels = [StockLevel(product, Decimal(amount)) for product, amount, _ in found]
    return levels, found[0].short if found else 0


WAITING = Lot.status == LotStatus.QUARANTINE
RECALLED_ON_SHELF = (Lot.status == LotStatus.RECALLED, Lot.quantity_on_hand > 0)


def quarantined_lots(*, limit: int | None = None) -> list[Lot]:
    """Lots received into quarantine and not yet released, the longest waiting first."""
    stmt = (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(WAITING)
        .order_by(Lot.received_at, Lot.id)
    )
    return _lots(stmt, limit)


def recalled_on_shelf(*, limit: int | None = None) -> list[Lot]:
    """Recalled lots that still hold stock: not stock any more, but boxes to dispose of."""
    stmt = (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(*RECALLED_ON_SHELF)
        .order_by(Product.name, Lot.lot_number, Lot.id)
    )
    return _lots(stmt, limit)


# --- the board's counts and timeline: aggregates in SQL, whatever the number of lots ---------


@dataclasses.dataclass(frozen=True)
class LotCounts:
    """How many lots each list of the board stands for, not only those it shows."""

    expired: int  # past their last day, still on the shelf
    urgent: int  # reaching their last day within each band
    soon: int
    later: int
    waiting: int  # in quarantine
    recalled: int  # recalled, still holding stock

    @property
    def expiring(self) -> int:
        return self.urgent + self.soon + self.later


def lot_counts(as_of: date, *, bands: Bands) -> LotCounts:
    """Every count of the board in one statement: each is its own indexed count (the bands
    are disjoint ranges of last days of use), so together they read each lot once at most."""

    def counted(*conditions):
        return select(func.count()).select_from(Lot).where(*conditions).scalar_subquery()

    def day(days: int) -> date:
        return as_of + timedelta(days=days)

    urgent_end = day(bands.urgent)
    soon_end = day(bands.soon) if bands.soon is not None else urgent_end
    stmt = select(
        counted(*ON_THE_SHELF, Lot.effective_expiry < as_of).label("expired"),
        counted(*_reaching_last_day(as_of, urgent_end)).label("urgent"),
        counted(*_reaching_last_day(urgent_end + timedelta(days=1), soon_end)).label("soon"),
        counted(*_reaching_last_day(soon_end + timedelta(days=1), day(bands.horizon))).label(
            "later"
        ),
        counted(WAITING).label("waiting"),
        counted(*RECALLED_ON_SHELF).label("recalled"),
    )
    return LotCounts(**db.session.execute(stmt).one()._asdict())


@dataclasses.dataclass(frozen=True)
class ProductWeeks:
    """One row of the timeline: what of a product reaches its last day of use each week."""

    product: Product
    first_day: date  # its earliest lot's last day of use within the horizon
    quantities: tuple[Decimal, ...]  # one per week, 0 where none
    lots: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ExpiryTimeline:
    weeks: list[Week]
    rows: list[ProductWeeks]
    products: int  # every product with a lot within the horizon, drawn or not


def expiry_timeline(
    as_of: date, *, bands: Bands, products: int = TIMELINE_PRODUCTS
) -> ExpiryTimeline:
    """The quantity on the shelf reaching its last day of use in each week from `as_of` to
    the bands' horizon, per product: the `products` products whose first lot comes soonest,
    summed in one statement (a row per product and week, never per lot)."""
    weeks = expiry_weeks(as_of, bands)
    window = _reaching_last_day(as_of, weeks[-1].last_day)
    first_day = func.min(Lot.effective_expiry).label("first_day")
    first = (
        select(Lot.product_id, first_day, func.count().over().label("products"))
        .where(*window)
        .group_by(Lot.product_id)
        .order_by(first_day, Lot.product_id)
        .limit(products)
        .subquery()
    )
    week = case(*[(Lot.effective_expiry <= w.last_day, w.index) for w in weeks[:-1]],
                else_=weeks[-1].index)  # fmt: skip
    # The week is computed below the GROUP BY: PostgreSQL would not match a CASE with bound
    # days in GROUP BY to the same CASE in the select list.
    lots = (
        select(Lot.product_id, week.label("week"), Lot.quantity_on_hand, first.c.first_day,
               first.c.products)
        .join(first, first.c.product_id == Lot.product_id)
        .where(*window)
        .subquery()
    )  # fmt: skip
    keys = (lots.c.product_id, lots.c.week, lots.c.first_day, lots.c.products)
    totals = (
        select(*keys, func.sum(lots.c.quantity_on_hand).label("quantity"),
               func.count().label("lots"))
        .group_by(*keys)
        .subquery()
    )  # fmt: skip
    stmt = (
        select(Product, totals.c.week, totals.c.first_day, totals.c.products, totals.c.quantity,
               totals.c.lots)
        .join(totals, totals.c.product_id == Product.id)
        .order_by(totals.c.first_day, Product.name, Product.id, totals.c.week)
    )  # fmt: skip
    found = db.session.execute(stmt).all()
    quantities: dict[int, list[Decimal]] = {}
    lot_counts: dict[int, list[int]] = {}
    starts: dict[int, tuple[Product, date]] = {}
    for product, index, first_on, _, quantity, count in found:
        starts.setdefault(product.id, (product, first_on))
        quantities.setdefault(product.id, [Decimal(0)] * len(weeks))[index] = Decimal(quantity)
        lot_counts.setdefault(product.id, [0] * len(weeks))[index] = count
    rows = [
        ProductWeeks(product, first_on, tuple(quantities[pid]), tuple(lot_counts[pid]))
        for pid, (product, first_on) in starts.items()
    ]
    return ExpiryTimeline(weeks, rows, found[0].products if found else 0)


@dataclasses.dataclass(frozen=True)
class Board:
    """Everything the stock board shows on a day, bounded: the most urgent lots of each list,
    the counts of them all, the timeline per product and week."""

    as_of: date
    bands: Bands
    counts: LotCounts
    timeline: ExpiryTimeline
    expiring: list[Lot]
    expired: list[Lot]
    waiting: list[Lot]
    recalled: list[Lot]
    low: list[StockLevel]
    short: int  # products below their reorder point, listed in `low` or not


def stock_board(as_of: date, *, bands: Bands, limit: int = BOARD_LOTS) -> Board:
    """The board of `as_of`: seven statements whatever the number of lots."""
    low, short = _low_stock_and_count(as_of, limit)
    return Board(
        as_of=as_of,
        bands=bands,
        counts=lot_counts(as_of, bands=bands),
        timeline=expiry_timeline(as_of, bands=bands),
        expiring=expiring_lots(as_of, bands.horizon, limit=limit),
        expired=expired_on_shelf(as_of, limit=limit),
        waiting=quarantined_lots(limit=limit),
        recalled=recalled_on_shelf(limit=limit),
        low=low,
        short=short,
    )


# What a product has on hand: its released and quarantined lots. A recalled lot's boxes are
# waiting to be disposed of, not stock.
ON_HAND_STATUSES = (LotStatus.AVAILABLE, LotStatus.QUARANTINE)


@dataclasses.dataclass(frozen=True)
class ProductStock:
    product: Product
    on_hand: Decimal
    usable: Decimal

    @property
    def low(self) -> bool:
        """Below its reorder point in usable stock (the low-stock alert's rule)."""
        return self.product.reorder_point > 0 and self.usable < self.product.reorder_point


def product_list(
    *,
    as_of: date,
    name: str | None = None,
    kind: ProductKind | str | None = None,
    gtin: str | None = None,
    low_only: bool = False,
) -> Select:
    """Every product by name, as one select to page through: `name` is found anywhere in the
    name, whatever its case; `low_only` keeps the products short on `as_of`."""
    stmt = select(Product).order_by(Product.name, Product.id)
    if name and name.strip():
        stmt = stmt.where(Product.name.icontains(name.strip(), autoescape=True))
    if kind is not None:
        stmt = stmt.where(Product.kind == ProductKind(kind))
    if gtin is not None:
        stmt = stmt.where(Product.gtin == gtin)
    if low_only:
        stmt = stmt.where(Product.id.in_(select(short_products(as_of).c.product_id)))
    return stmt


def stock_of(products: list[Product], *, as_of: date) -> list[ProductStock]:
    """What each product has on hand and what of it is usable on `as_of`, in the order given:
    one query for them all."""
    if not products:
        return []
    usable = and_(*usable_lot_conditions(as_of))
    stmt = (
        select(
            Lot.product_id,
            func.sum(Lot.quantity_on_hand).label("on_hand"),
            func.sum(case((usable, Lot.quantity_on_hand), else_=0)).label("usable"),
        )
        .where(
            Lot.product_id.in_([product.id for product in products]),
            Lot.status.in_(ON_HAND_STATUSES),
        )
        .group_by(Lot.product_id)
    )
    sums = {row.product_id: row for row in db.session.execute(stmt)}
    return [
        ProductStock(
            product,
            Decimal(sums[product.id].on_hand) if product.id in sums else Decimal(0),
            Decimal(sums[product.id].usable) if product.id in sums else Decimal(0),
        )
        for product in products
    ]

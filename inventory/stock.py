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

from sqlalchemy import Select, case, func, select, true
from sqlalchemy.orm import contains_eager

from core.database import db
from core.sites import Site
from inventory.expiry import Bands, Week, expiry_weeks, usable_lot_conditions
from inventory.models import Lot, LotStatus, Product, ProductKind, SiteReorderPoint

# How many lots each list of the board shows, the most urgent first; and how many products its
# timeline draws, those whose first lot reaches its last day soonest.
BOARD_LOTS = 50
TIMELINE_PRODUCTS = 30


@dataclasses.dataclass(frozen=True)
class StockLevel:
    """A product short at one site: its usable stock there and the site's reorder point."""

    product: Product
    usable: Decimal
    site: Site
    reorder_point: Decimal

    @property
    def missing(self) -> Decimal:
        return self.reorder_point - self.usable


def at_sites(site_ids: list[int] | None) -> tuple:
    """The condition keeping the lots of those sites (none: every site)."""
    return () if site_ids is None else (Lot.site_id.in_(site_ids),)


def reorder_point_at(product_id, site_id):
    """The product's reorder point at the site: the site's own, else the product's (SQL)."""
    own = (
        select(SiteReorderPoint.reorder_point)
        .where(SiteReorderPoint.product_id == product_id, SiteReorderPoint.site_id == site_id)
        # Correlated to the statement that names the product and the site, however deep
        # this sits in it (the scan's UPDATE of alerts reads it inside a subquery on products).
        .correlate_except(SiteReorderPoint)
        .scalar_subquery()
    )
    return func.coalesce(own, Product.reorder_point)


def usable_at(product_id, site_id, *, as_of: date):
    """The usable quantity of the product at the site on `as_of` (SQL), summed from
    `ix_lots_fefo_quantity` alone (one index range)."""
    return (
        select(func.coalesce(func.sum(Lot.quantity_on_hand), 0))
        .where(Lot.site_id == site_id, Lot.product_id == product_id, *usable_lot_conditions(as_of))
        .scalar_subquery()
    )


ON_THE_SHELF = (Lot.status == LotStatus.AVAILABLE, Lot.quantity_on_hand > 0)


def _on_the_shelf(site_ids: list[int] | None = None):
    """Lots that could still be handed out as far as their status and stock go."""
    return (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(*ON_THE_SHELF, *at_sites(site_ids))
    )


def _lots(stmt: Select, limit: int | None) -> list[Lot]:
    return list(db.session.scalars(stmt if limit is None else stmt.limit(limit)))


def _reaching_last_day(first_day: date, last_day: date) -> tuple:
    """Lots on the shelf whose last day of use falls from `first_day` to `last_day`."""
    return (*ON_THE_SHELF, Lot.effective_expiry >= first_day, Lot.effective_expiry <= last_day)


def expiring_lots(
    as_of: date, within_days: int, *, limit: int | None = None, site_ids: list[int] | None = None
) -> list[Lot]:
    """Usable lots whose last day of use falls within `within_days` of `as_of` (both days
    included), earliest first (the most urgent: FEFO's order), each with its product loaded;
    the first `limit` of them when given."""
    last_day = as_of + timedelta(days=within_days)
    stmt = (
        _on_the_shelf(site_ids)
        .where(Lot.effective_expiry >= as_of, Lot.effective_expiry <= last_day)
        .order_by(Lot.effective_expiry, Lot.received_at, Lot.id)
    )
    return _lots(stmt, limit)


def expired_on_shelf(
    as_of: date, *, limit: int | None = None, site_ids: list[int] | None = None
) -> list[Lot]:
    """Available lots with stock whose last day of use is past: FEFO no longer hands them out,
    and they are waiting to be disposed of. The longest past first."""
    stmt = (
        _on_the_shelf(site_ids)
        .where(Lot.effective_expiry < as_of)
        .order_by(Lot.effective_expiry, Lot.id)
    )
    return _lots(stmt, limit)


def short_products(as_of: date, *, site_ids: list[int] | None = None):
    """Products short at a site: whose usable quantity there on `as_of` is below their reorder
    point at that site (> 0; the site's own, else the product's), as a subquery (product_id,
    site_id, usable, reorder_point), for the sites given (None: every site). Each product's
    usable lots at a site are summed from `ix_lots_fefo_quantity` alone, one index range per
    product and site holding its usable lots only (joining the products to every lot carried
    each lot through the join, five times slower at a million lots). The sums are kept (a
    materialized CTE, inside the subquery so that an INSERT from it still starts with
    INSERT): the filter on them would otherwise sum a short product's lots a second time."""
    sites = select(Site.id).where(*(() if site_ids is None else (Site.id.in_(site_ids),)))
    sites = sites.subquery("stock_sites")
    reorder_point = reorder_point_at(Product.id, sites.c.id)
    levels = (
        select(
            Product.id.label("product_id"),
            sites.c.id.label("site_id"),
            usable_at(Product.id, sites.c.id, as_of=as_of).label("usable"),
            reorder_point.label("reorder_point"),
        )
        .select_from(Product)
        .join(sites, true())
        .where(reorder_point > 0)
        .cte("stock_levels", nesting=True)
        .prefix_with("MATERIALIZED")
    )
    return select(levels).where(levels.c.usable < levels.c.reorder_point).subquery()


def low_stock(
    as_of: date, *, limit: int | None = None, site_ids: list[int] | None = None
) -> list[StockLevel]:
    """Products whose usable quantity on `as_of` at a site is below their reorder point there
    (a product with no usable lot at all counts as zero), by name, then site; the first
    `limit` of them when given. Quarantined, recalled, disposed and expired lots are not stock
    a clinic can use, and another site's shelf is not this one's."""
    return _low_stock_and_count(as_of, limit, site_ids)[0]


def _low_stock_and_count(
    as_of: date, limit: int | None, site_ids: list[int] | None = None
) -> tuple[list[StockLevel], int]:
    """`low_stock` and how many (product, site) are short in all, from one pass."""
    short = short_products(as_of, site_ids=site_ids)
    stmt = (
        select(Product, Site, short.c.usable, short.c.reorder_point,
               func.count().over().label("short"))
        .join(short, short.c.product_id == Product.id)
        .join(Site, Site.id == short.c.site_id)
        .order_by(Product.name, Product.id, Site.name, Site.id)
    )  # fmt: skip
    if limit is not None:
        stmt = stmt.limit(limit)
    found = db.session.execute(stmt).all()
    levels = [
        StockLevel(product, Decimal(amount), site, Decimal(point))
        for product, site, amount, point, _ in found
    ]
    return levels, found[0].short if found else 0


WAITING = Lot.status == LotStatus.QUARANTINE
RECALLED_ON_SHELF = (Lot.status == LotStatus.RECALLED, Lot.quantity_on_hand > 0)


def quarantined_lots(*, limit: int | None = None, site_ids: list[int] | None = None) -> list[Lot]:
    """Lots received into quarantine and not yet released, the longest waiting first."""
    stmt = (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(WAITING, *at_sites(site_ids))
        .order_by(Lot.received_at, Lot.id)
    )
    return _lots(stmt, limit)


def recalled_on_shelf(*, limit: int | None = None, site_ids: list[int] | None = None) -> list[Lot]:
    """Recalled lots that still hold stock: not stock any more, but boxes to dispose of."""
    stmt = (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(*RECALLED_ON_SHELF, *at_sites(site_ids))
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


def lot_counts(as_of: date, *, bands: Bands, site_ids: list[int] | None = None) -> LotCounts:
    """Every count of the board in one statement: each is its own indexed count (the bands
    are disjoint ranges of last days of use), so together they read each lot once at most."""

    def counted(*conditions):
        return (
            select(func.count())
            .select_from(Lot)
            .where(*conditions, *at_sites(site_ids))
            .scalar_subquery()
        )

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
    as_of: date,
    *,
    bands: Bands,
    products: int = TIMELINE_PRODUCTS,
    site_ids: list[int] | None = None,
) -> ExpiryTimeline:
    """The quantity on the shelf reaching its last day of use in each week from `as_of` to
    the bands' horizon, per product: the `products` products whose first lot comes soonest,
    summed in one statement (a row per product and week, never per lot)."""
    weeks = expiry_weeks(as_of, bands)
    window = (*_reaching_last_day(as_of, weeks[-1].last_day), *at_sites(site_ids))
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
    short: int  # products below their reorder point at a site, listed in `low` or not


def stock_board(
    as_of: date, *, bands: Bands, limit: int = BOARD_LOTS, site_ids: list[int] | None = None
) -> Board:
    """The board of `as_of` for the sites given (None: every site): seven statements whatever
    the number of lots."""
    low, short = _low_stock_and_count(as_of, limit, site_ids)
    return Board(
        as_of=as_of,
        bands=bands,
        counts=lot_counts(as_of, bands=bands, site_ids=site_ids),
        timeline=expiry_timeline(as_of, bands=bands, site_ids=site_ids),
        expiring=expiring_lots(as_of, bands.horizon, limit=limit, site_ids=site_ids),
        expired=expired_on_shelf(as_of, limit=limit, site_ids=site_ids),
        waiting=quarantined_lots(limit=limit, site_ids=site_ids),
        recalled=recalled_on_shelf(limit=limit, site_ids=site_ids),
        low=low,
        short=short,
    )


# What a product has on hand: its released and quarantined lots. A recalled lot's boxes are
# waiting to be disposed of, not stock.
ON_HAND_STATUSES = (LotStatus.AVAILABLE, LotStatus.QUARANTINE)


@dataclasses.dataclass(frozen=True)
class ProductStock:
    """What a product has at the sites shown: on hand, usable, the sum of its reorder points
    there, and whether it is short at one of them at least (the low-stock alert's rule)."""

    product: Product
    on_hand: Decimal
    usable: Decimal
    reorder_point: Decimal = Decimal(0)
    low: bool = False


def product_list(
    *,
    as_of: date,
    name: str | None = None,
    kind: ProductKind | str | None = None,
    gtin: str | None = None,
    low_only: bool = False,
    site_ids: list[int] | None = None,
) -> Select:
    """Every product by name, as one select to page through: `name` is found anywhere in the
    name, whatever its case; `low_only` keeps the products short on `as_of` at one of the
    sites (None: every site)."""
    stmt = select(Product).order_by(Product.name, Product.id)
    if name and name.strip():
        stmt = stmt.where(Product.name.icontains(name.strip(), autoescape=True))
    if kind is not None:
        stmt = stmt.where(Product.kind == ProductKind(kind))
    if gtin is not None:
        stmt = stmt.where(Product.gtin == gtin)
    if low_only:
        short = short_products(as_of, site_ids=site_ids)
        stmt = stmt.where(Product.id.in_(select(short.c.product_id)))
    return stmt


def stock_of(
    products: list[Product], *, as_of: date, site_ids: list[int] | None = None
) -> list[ProductStock]:
    """What each product has on hand at the sites (None: every site) and what of it is usable
    on `as_of`, in the order given: one query for them all, a row per product and site."""
    if not products:
        return []
    sites = select(Site.id).where(*(() if site_ids is None else (Site.id.in_(site_ids),)))
    sites = sites.subquery("stock_sites")
    on_hand = (
        select(func.coalesce(func.sum(Lot.quantity_on_hand), 0))
        .where(
            Lot.site_id == sites.c.id,
            Lot.product_id == Product.id,
            Lot.status.in_(ON_HAND_STATUSES),
        )
        .scalar_subquery()
    )
    stmt = (
        select(
            Product.id.label("product_id"),
            on_hand.label("on_hand"),
            usable_at(Product.id, sites.c.id, as_of=as_of).label("usable"),
            reorder_point_at(Product.id, sites.c.id).label("reorder_point"),
        )
        .select_from(Product)
        .join(sites, true())
        .where(Product.id.in_([product.id for product in products]))
    )
    per_site: dict[int, list] = {}
    for row in db.session.execute(stmt):
        per_site.setdefault(row.product_id, []).append(row)
    return [_product_stock(product, per_site.get(product.id, [])) for product in products]


def _product_stock(product: Product, rows: list) -> ProductStock:
    def total(name: str) -> Decimal:
        return sum((Decimal(getattr(row, name)) for row in rows), Decimal(0))

    short = any(row.reorder_point > 0 and row.usable < row.reorder_point for row in rows)
    return ProductStock(product, total("on_hand"), total("usable"), total("reorder_point"), short)

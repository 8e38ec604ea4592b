"""What the stock board shows a pharmacist on a given day: lots about to expire, usable lots
already past their last day, lots waiting for release from quarantine, recalled lots still on
the shelf, and products whose usable stock is below their reorder point; and the list of every
product with what it has on hand and what of that is usable.

Each answer is one set-based query (the board does not grow a query per product or lot), read
through the indexes on `lots` (`ix_lots_status_effective_expiry`, `ix_lots_fefo`).
"""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import contains_eager

from core.database import db
from inventory.expiry import usable_lot_conditions
from inventory.models import Lot, LotStatus, Product, ProductKind

# How far ahead the board looks for expiring lots: the longest default alert threshold.


@dataclasses.dataclass(frozen=True)
class StockLevel:
    product: Product
    usable: Decimal

    @property
    def missing(self) -> Decimal:
        return self.product.reorder_point - self.usable


def _on_the_shelf():
    """Lots that could still be handed out as far as their status and stock go."""
    return (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(Lot.status == LotStatus.AVAILABLE, Lot.quantity_on_hand > 0)
    )


def expiring_lots(as_of: date, within_days: int) -> list[Lot]:
    """Usable lots whose last day of use falls within `within_days` of `as_of` (both days
    included), earliest first, each with its product loaded."""
    last_day = as_of + timedelta(days=within_days)
    stmt = (
        _on_the_shelf()
        .where(Lot.effective_expiry >= as_of, Lot.effective_expiry <= last_day)
        .order_by(Lot.effective_expiry, Lot.received_at, Lot.id)
    )
    return list(db.session.scalars(stmt))


def expired_on_shelf(as_of: date) -> list[Lot]:
    """Available lots with stock whose last day of use is past: FEFO no longer hands them out,
    and they are waiting to be disposed of."""
    stmt = (
        _on_the_shelf().where(Lot.effective_expiry < as_of).order_by(Lot.effective_expiry, Lot.id)
    )
    return list(db.session.scalars(stmt))


def short_products(as_of: date):
    """Products whose usable quantity on `as_of` is below their reorder point (> 0), as a
    subquery (product_id, usable, reorder_point)."""
    usable = func.coalesce(func.sum(Lot.quantity_on_hand), 0)
    return (
        select(
            Product.id.label("product_id"),
            usable.label("usable"),
            Product.reorder_point.label("reorder_point"),
        )
        .outerjoin(Lot, and_(Lot.product_id == Product.id, *usable_lot_conditions(as_of)))
        .where(Product.reorder_point > 0)
        .group_by(Product.id, Product.reorder_point)
        .having(usable < Product.reorder_point)
        .subquery()
    )


def low_stock(as_of: date) -> list[StockLevel]:
    """Products whose usable quantity on `as_of` is below their reorder point (a product with
    no usable lot at all counts as zero), by name. Quarantined, recalled, disposed and expired
    lots are not stock a clinic can use."""
    short = short_products(as_of)
    stmt = (
        select(Product, short.c.usable)
        .join(short, short.c.product_id == Product.id)
        .order_by(Product.name, Product.id)
    )
    return [StockLevel(product, Decimal(amount)) for product, amount in db.session.execute(stmt)]


def quarantined_lots() -> list[Lot]:
    """Lots received into quarantine and not yet released, the longest waiting first."""
    stmt = (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(Lot.status == LotStatus.QUARANTINE)
        .order_by(Lot.received_at, Lot.id)
    )
    return list(db.session.scalars(stmt))


def recalled_on_shelf() -> list[Lot]:
    """Recalled lots that still hold stock: not stock any more, but boxes to dispose of."""
    stmt = (
        select(Lot)
        .join(Lot.product)
        .options(contains_eager(Lot.product))
        .where(Lot.status == LotStatus.RECALLED, Lot.quantity_on_hand > 0)
        .order_by(Product.name, Lot.lot_number, Lot.id)
    )
    return list(db.session.scalars(stmt))


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

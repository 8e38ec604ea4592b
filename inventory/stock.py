"""What the stock board shows a pharmacist on a given day: lots about to expire, usable lots
already past their last day, and products whose usable stock is below their reorder point.

Each answer is one set-based query (the board does not grow a query per product or lot), read
through the indexes on `lots` (`ix_lots_status_effective_expiry`, `ix_lots_fefo`).
"""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import contains_eager

from core.database import db
from inventory.expiry import usable_lot_conditions
from inventory.models import Lot, LotStatus, Product

# How far ahead the board looks for expiring lots: the longest default alert threshold.
EXPIRY_HORIZON_DAYS = 90


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


def expiring_lots(as_of: date, within_days: int = EXPIRY_HORIZON_DAYS) -> list[Lot]:
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

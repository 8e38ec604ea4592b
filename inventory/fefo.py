"""First-expiring, first-out: a dispense for a product at a site takes from that site's usable
lots, earliest effective expiry first (ties: earliest received), splitting across lots when
needed. Another site's shelf is never touched: stock moves between sites by transfer."""

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select, tuple_

from core.clock import clinic_today, day_text
from core.database import db
from core.errors import Conflict, Invalid
from core.sites import stock_site_id
from inventory.expiry import FEFO_ORDER, usable_lot_conditions
from inventory.ledger import post_movement
from inventory.models import Lot, MovementKind
from inventory.products import get_product


@dataclasses.dataclass(frozen=True)
class Pick:
    lot: Lot
    quantity: Decimal

    @property
    def lot_id(self) -> int:
        return self.lot.id

    @property
    def lot_number(self) -> str:
        return self.lot.lot_number


# Lots read at a time: the first read takes a few, each next one twice as many as the last,
# up to the largest. A dispense from one lot reads a few lots (of a million on the shelf), one
# that empties hundreds reads them in a handful of statements.
FIRST_WINDOW = 4
LARGEST_WINDOW = 1024


def usable_lots(product_id: int, day: date, *, site_id: int, lock: bool = False) -> Iterator[Lot]:
    """The product's lots at the site usable on that day, in FEFO order, read a window at a
    time as the caller goes on, each window after the last lot of the one before (never an
    OFFSET, which reads again every lot it skips). With `lock` their rows stay locked until
    the transaction ends (PostgreSQL), so that picks made from them hold."""
    stmt = (
        select(Lot)
        .where(
            Lot.site_id == site_id,
            Lot.product_id == product_id,
            *usable_lot_conditions(day),
        )
        .order_by(*FEFO_ORDER)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    after, size = stmt, FIRST_WINDOW
    while True:
        window = list(db.session.scalars(after.limit(size)))
        yield from window
        if len(window) < size:
            return
        last = window[-1]
        after = stmt.where(
            # The first condition is the second's index range: FEFO's order leads with it.
            Lot.effective_expiry >= last.effective_expiry,
            tuple_(*FEFO_ORDER) > (last.effective_expiry, last.received_at, last.id),
        )
        size = min(2 * size, LARGEST_WINDOW)


def fefo_picks(
    product_id: int, quantity: Decimal, *, day: date, site_id: int, lock: bool = False
) -> list[Pick]:
    """Which lots of the site give `quantity` on that day, and how much each; a 409 when the
    site's usable stock is short (nothing is picked then)."""
    picks = []
    missing = quantity
    lots = usable_lots(product_id, day, site_id=site_id, lock=lock)
    # Stop as soon as the quantity is covered: asking for one more lot may read a window.
    while missing > 0 and (lot := next(lots, None)) is not None:
        taken = min(lot.quantity_on_hand, missing)
        picks.append(Pick(lot, taken))
        missing -= taken
    if missing > 0:
        usable = quantity - missing
        product = get_product(product_id)
        raise Conflict(
            f"Only {_amount(usable)} {product.unit} of {product.name} usable on "
            f"{day_text(day)}; {_amount(quantity)} asked for.",
            {"quantity": [f"Only {_amount(usable)} usable."]},
            usable=float(usable),
        )
    return picks


def dispense(
    product_id: int,
    quantity: Decimal,
    *,
    reason: str | None,
    user_id: int | None,
    now: datetime,
    site_id: int | None = None,
) -> list[Pick]:
    """Hand out `quantity` of a product FEFO at a site (the clinic's only site when none is
    named), now: all of it from the site's lots usable today, or nothing (409)."""
    if quantity <= 0:
        raise Invalid({"quantity": ["Must be more than 0."]})
    product = get_product(product_id)
    site_id = stock_site_id(site_id)
    today = clinic_today(now)
    with db.session.begin_nested():
        picks = fefo_picks(product.id, quantity, day=today, site_id=site_id, lock=True)
        for pick in picks:
            post_movement(
                pick.lot,
                MovementKind.DISPENSE,
                quantity=-pick.quantity,
                reason=reason,
                user_id=user_id,
                now=now,
                usable_on=today,
            )
    return picks


def _amount(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"

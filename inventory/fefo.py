"""First-expiring, first-out: a dispense for a product takes from its usable lots, earliest
effective expiry first (ties: earliest received), splitting across lots when needed."""

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from core.clock import clinic_today, day_text
from core.database import db
from core.errors import Conflict, Invalid
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


# Lots read at a time: a dispense of one unit from a product with a million usable lots reads
# the first window only.
LOT_WINDOW = 100


def usable_lots(product_id: int, day: date, *, lock: bool = False) -> Iterator[Lot]:
    """The product's lots usable on that day, in FEFO order, read a window at a time as the
    caller goes on. With `lock` their rows stay locked until the transaction ends
    (PostgreSQL), so that picks made from them hold."""
    stmt = (
        select(Lot)
        .where(
            Lot.product_id == product_id,
            *usable_lot_conditions(day),
        )
        .order_by(*FEFO_ORDER)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    for start in itertools.count(0, LOT_WINDOW):
        window = list(db.session.scalars(stmt.limit(LOT_WINDOW).offset(start)))
        yield from window
        if len(window) < LOT_WINDOW:
            return


def fefo_picks(product_id: int, quantity: Decimal, *, day: date, lock: bool = False) -> list[Pick]:
    """Which lots give `quantity` on that day, and how much each; a 409 when the usable stock
    is short (nothing is picked then)."""
    picks = []
    missing = quantity
    for lot in usable_lots(product_id, day, lock=lock):
        if missing <= 0:
            break
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
    product_id: int, quantity: Decimal, *, reason: str | None, user_id: int | None, now: datetime
) -> list[Pick]:
    """Hand out `quantity` of a product FEFO, now: all of it from lots usable today, or
    nothing (409)."""
    if quantity <= 0:
        raise Invalid({"quantity": ["Must be more than 0."]})
    product = get_product(product_id)
    today = clinic_today(now)
    with db.session.begin_nested():
        picks = fefo_picks(product.id, quantity, day=today, lock=True)
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

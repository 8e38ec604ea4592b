"""The stock ledger: every change of a lot's quantity is a movement, posted together with a
conditional update of the lot, and the sum of a lot's movements is its quantity on hand.

The conditional update (`... WHERE quantity_on_hand >= :needed`) is what keeps stock from going
below zero when requests race: the database decides, on the row it is about to change, and a
request that finds too little changes nothing. The CHECK constraint on the table is the last
guard behind it.
"""

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from core.database import db
from core.errors import Conflict
from inventory.models import Lot, LotStatus, Movement, MovementKind

_lots = Lot.__table__


def post_movement(
    lot: Lot,
    kind: MovementKind,
    *,
    quantity: Decimal,
    reason: str | None,
    user_id: int | None,
    now: datetime,
    usable_on: date | None = None,
) -> Movement:
    """Change the lot's quantity by a signed amount and record it in the ledger, or refuse
    with a 409 and change nothing. With `usable_on`, the lot must also still be usable on that
    day when the update lands (available, not past its effective expiry)."""
    db.session.flush()
    stmt = (
        update(_lots)
        .where(_lots.c.id == lot.id)
        .values(quantity_on_hand=_lots.c.quantity_on_hand + quantity)
        .returning(_lots.c.quantity_on_hand)
    )
    if quantity < 0:
        stmt = stmt.where(_lots.c.quantity_on_hand >= -quantity)
    if usable_on is not None:
        stmt = stmt.where(
            _lots.c.status == LotStatus.AVAILABLE.value, _lots.c.effective_expiry >= usable_on
        )
    on_hand = db.session.execute(stmt).scalar()
    if on_hand is None:
        raise Conflict(
            f"Lot {lot.lot_number} cannot give {-quantity}: "
            + ("it is not usable today or " if usable_on is not None else "")
            + "it holds too little.",
            {"quantity": ["More than the lot holds."]},
            lot_id=lot.id,
        )
    # The row changed outside the ORM: keep the loaded object in step without marking it dirty.
    set_committed_value(lot, "quantity_on_hand", on_hand)
    movement = Movement(
        lot_id=lot.id, kind=kind, quantity=quantity, reason=reason, user_id=user_id, created_at=now
    )
    db.session.add(movement)
    db.session.flush()
    return movement


@dataclasses.dataclass(frozen=True)
class Mismatch:
    lot_id: int
    lot_number: str
    quantity_on_hand: Decimal
    ledger_sum: Decimal


def ledger_mismatches() -> list[Mismatch]:
    """Every lot whose quantity on hand is not the sum of its movements, in one set-based
    query."""
    ledger = (
        select(Movement.lot_id, func.sum(Movement.quantity).label("total"))
        .group_by(Movement.lot_id)
        .subquery()
    )
    total = func.coalesce(ledger.c.total, 0)
    stmt = (
        select(Lot.id, Lot.lot_number, Lot.quantity_on_hand, ledger.c.total)
        .outerjoin(ledger, ledger.c.lot_id == Lot.id)
        .where(Lot.quantity_on_hand != total)
        .order_by(Lot.id)
    )
    return [
        Mismatch(lot_id, lot_number, on_hand, ledger_total or Decimal(0))
        for lot_id, lot_number, on_hand, ledger_total in db.session.execute(stmt)
    ]


def lot_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Lot))


def lot_ledger(lot_id: int) -> Select:
    """A lot's movements, oldest first, each with who made it."""
    return (
        select(Movement)
        .where(Movement.lot_id == lot_id)
        .options(joinedload(Movement.user))
        .order_by(Movement.id)
    )

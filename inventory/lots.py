"""A lot's life: received (from fields or a GS1 barcode), released from quarantine, opened,
adjusted, disposed of, recalled (SPEC 3.4).

Quantity changes go through the ledger (`post_movement`); status changes are written on the
lot and so land in the audit log with the acting user, old and new value and the reason.
"""

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from core.clock import clinic_today, utcnow
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from inventory.alerts import raise_recall_alert
from inventory.barcodes import read_barcode
from inventory.expiry import effective_expiry, refresh_effective_expiry
from inventory.ledger import post_movement
from inventory.models import Lot, LotStatus, MovementKind, Product, Storage
from inventory.products import product_for_gtin


@dataclasses.dataclass(frozen=True)
class Expiry:
    """An expiry date as printed: a day, or a whole month (stored as its last day)."""

    day: date
    month_only: bool = False


@dataclasses.dataclass(frozen=True)
class Receipt:
    lot: Lot
    created: bool


def get_lot(lot_id: int, lock: bool = False) -> Lot:
    """The lot; with `lock`, its row is locked for the rest of the transaction (PostgreSQL) and
    re-read, so that a decision made on it is not made on a stale copy."""
    stmt = select(Lot).where(Lot.id == lot_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    lot = db.session.scalar(stmt)
    if lot is None:
        raise NotFound(f"No lot with id {lot_id}.")
    return lot


def find_lot(product_id: int, lot_number: str) -> Lot | None:
    stmt = (
        select(Lot)
        .where(Lot.product_id == product_id, Lot.lot_number == lot_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.session.scalar(stmt)


def receive(
    product_id: int,
    lot_number: str,
    expiry: Expiry | None,
    quantity: Decimal,
    user_id: int | None,
    now: datetime,
    supplier: str | None = None,
    storage: Storage | str | None = None,
    received_at: datetime | None = None,
    quarantine: bool = False,
    expiry_field: str = "expiry_date",
) -> Receipt:
    """Receive stock of a lot: a new lot, or more of a lot already on the shelf (a `receive`
    movement on it). An expiry already past is refused; for a known lot a different expiry is
    a conflict and a missing one keeps the stored date. A new lot is stored where the product
    usually is, unless `storage` says otherwise."""
    _check_positive(quantity)
    product = db.session.get(Product, product_id)
    if product is None:
        raise Invalid({"product_id": [f"No product with id {product_id}."]})
    lot_number = lot_number.strip()
    if not lot_number:
        raise Invalid({"lot_number": ["A lot number is required."]})
    lot = find_lot(product.id, lot_number)
    if lot is not None:
        _receive_more(lot, expiry, quantity, user_id, now, expiry_field)
        return Receipt(lot, created=False)
    if expiry is None:
        raise Invalid({expiry_field: [f"Lot {lot_number} is new: its expiry date is needed."]})
    _check_not_expired(expiry.day, now, expiry_field)
    received_at = received_at or now
    if received_at > now:
        raise Invalid({"received_at": ["A lot cannot be received in the future."]})
    lot = Lot(
        product_id=product.id,
        lot_number=lot_number,
        expiry_date=expiry.day,
        expiry_month_only=expiry.month_only,
        effective_expiry=effective_expiry(expiry.day, None, product.days_after_opening),
        quantity_on_hand=Decimal(0),
        status=LotStatus.QUARANTINE if quarantine else LotStatus.AVAILABLE,
        received_at=received_at,
        supplier=supplier,
        storage=Storage(storage) if storage else product.storage,
    )
    db.session.add(lot)
    db.session.flush()
    post_movement(lot, MovementKind.RECEIVE, quantity, "received", user_id, now)
    return Receipt(lot, created=True)


def receive_barcode(
    barcode: str, quantity: Decimal, user_id: int | None, now: datetime, **details
) -> Receipt:
    """Receive from a scanned GS1 barcode: the product is the one with the barcode's GTIN."""
    label = read_barcode(barcode)
    product = product_for_gtin(label.gtin)
    if product is None:
        raise Invalid({"barcode": [f"No product with GTIN {label.gtin}."]})
    expiry = Expiry(label.expiry_date, label.expiry_month_only) if label.expiry_date else None
    return receive(
        product.id,
        label.lot_number,
        expiry,
        quantity,
        user_id,
        now,
        expiry_field="barcode",
        **details,
    )


def _receive_more(
    lot: Lot,
    expiry: Expiry | None,
    quantity: Decimal,
    user_id: int | None,
    now: datetime,
    expiry_field: str,
) -> None:
    if lot.status in (LotStatus.RECALLED, LotStatus.DISPOSED):
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}: no stock can join it.")
    if expiry is not None and expiry.day != lot.expiry_date:
        raise Conflict(
            f"Lot {lot.lot_number} is stored with expiry {lot.expiry_date.isoformat()}, "
            f"not {expiry.day.isoformat()}: check the box.",
            {expiry_field: ["Differs from the stored expiry of this lot."]},
        )
    _check_not_expired(lot.expiry_date, now, expiry_field)
    post_movement(lot, MovementKind.RECEIVE, quantity, "received", user_id, now)


def release(lot_id: int) -> Lot:
    """A quarantined lot becomes available."""
    lot = get_lot(lot_id, lock=True)
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(f"Only a quarantined lot can be released; lot is {lot.status.value}.")
    lot.status = LotStatus.AVAILABLE
    db.session.flush()
    return lot


def open_lot(lot_id: int, now: datetime, opened_at: datetime | None = None) -> Lot:
    """Record when the vial was first opened; its opened life starts that day. Only the first
    opening counts: opening again changes nothing."""
    lot = get_lot(lot_id, lock=True)
    if lot.opened_at is not None:
        return lot
    if lot.status != LotStatus.AVAILABLE:
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}: it cannot be opened.")
    opened_at = opened_at or now
    if opened_at > now:
        raise Invalid({"opened_at": ["A vial cannot be opened in the future."]})
    if opened_at < lot.received_at:
        raise Invalid(
            {"opened_at": [f"Before the lot was received ({lot.received_at.isoformat()})."]}
        )
    lot.opened_at = opened_at
    refresh_effective_expiry(lot, lot.product.days_after_opening)
    db.session.flush()
    return lot


def adjust(lot_id: int, quantity: Decimal, reason: str, user_id: int | None, now: datetime) -> Lot:
    """A counted correction, up or down; never below zero."""
    if quantity == 0:
        raise Invalid({"quantity": ["An adjustment changes the quantity: it cannot be 0."]})
    _check_reason(reason)
    lot = get_lot(lot_id, lock=True)
    if lot.status == LotStatus.DISPOSED:
        raise Conflict(f"Lot {lot.lot_number} is disposed of.")
    post_movement(lot, MovementKind.ADJUST, quantity, reason, user_id, now)
    return lot


def dispose(
    lot_id: int,
    reason: str,
    user_id: int | None,
    now: datetime,
    quantity: Decimal | None = None,
) -> Lot:
    """Throw away some or all of a lot (all when no quantity is given). A lot with nothing left
    is disposed of; a recalled one stays recalled, the stronger fact."""
    _check_reason(reason)
    if quantity is not None:
        _check_positive(quantity)
    lot = get_lot(lot_id, lock=True)
    if lot.status == LotStatus.DISPOSED:
        raise Conflict(f"Lot {lot.lot_number} is already disposed of.")
    amount = lot.quantity_on_hand if quantity is None else quantity
    if amount > 0:
        post_movement(lot, MovementKind.DISPOSE, -amount, reason, user_id, now)
    if lot.quantity_on_hand == 0 and lot.status != LotStatus.RECALLED:
        lot.status = LotStatus.DISPOSED
        lot.status_reason = reason
    db.session.flush()
    return lot


def recall(lot_id: int, reason: str, now: datetime | None = None) -> Lot:
    """A recalled lot is never usable again, whatever its stock or status. The recall alert is
    raised in the same transaction: the recall and its alert exist together or not at all."""
    _check_reason(reason)
    lot = get_lot(lot_id, lock=True)
    if lot.status == LotStatus.RECALLED:
        raise Conflict(f"Lot {lot.lot_number} is already recalled.")
    lot.status = LotStatus.RECALLED
    lot.status_reason = reason
    db.session.flush()
    raise_recall_alert(lot, reason, now or utcnow())
    return lot


def _check_not_expired(expiry_date: date, now: datetime, field: str) -> None:
    today = clinic_today(now)
    if expiry_date < today:
        raise Invalid(
            {field: [f"Expired on {expiry_date.isoformat()}, before today ({today.isoformat()})."]}
        )


def _check_positive(quantity: Decimal) -> None:
    if quantity <= 0:
        raise Invalid({"quantity": ["Must be more than 0."]})


def _check_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise Invalid({"reason": ["A reason is required."]})

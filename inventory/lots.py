"""A lot's life: received (from fields or a GS1 barcode), released from quarantine (or put
back into it), opened, adjusted, disposed of, recalled (SPEC 3.4); which of those a lot can
still go through; the list of every lot, searched, filtered and sorted.

Quantity changes go through the ledger (`post_movement`); status changes are written on the
lot and so land in the audit log with the acting user, old and new value and the reason.
"""

import dataclasses
import enum
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from core.accounts import User
from core.clock import clinic_today, day_text, moment_text, utcnow
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from core.sites import stock_site_id
from inventory.alerts import raise_recall_alert
from inventory.barcodes import BoxLabel, read_barcode
from inventory.expiry import (
    ExpiryFormatError,
    effective_expiry,
    parse_expiry,
    refresh_effective_expiry,
)
from inventory.ledger import post_movement
from inventory.models import Lot, LotStatus, MovementKind, Product, Storage
from inventory.products import product_for_gtin
from inventory.purchase_orders import receive_on_line
from inventory.second_check import batch_of_lot, check_second_pharmacist, record_verification
from inventory.transfers import transferred_copies


@dataclasses.dataclass(frozen=True)
class Expiry:
    """An expiry date as printed: a day, or a whole month (stored as its last day)."""

    day: date
    month_only: bool = False


def typed_expiry(text: str | None, *, field: str = "expiry_date") -> Expiry | None:
    """An expiry as a person types it (YYYY-MM-DD, YYYY-MM, MM/YYYY), None when blank; a 422
    naming `field` when it is no date."""
    if not text or not text.strip():
        return None
    try:
        return Expiry(*parse_expiry(text))
    except ExpiryFormatError as error:
        raise Invalid({field: [str(error)]}) from None


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


def find_lot(product_id: int, lot_number: str, *, site_id: int) -> Lot | None:
    """The site's lot of that number (the same supplier lot at another site is another lot)."""
    stmt = (
        select(Lot)
        .where(Lot.site_id == site_id, Lot.product_id == product_id, Lot.lot_number == lot_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.session.scalar(stmt)


def receive(
    *,
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
    site_id: int | None = None,
    purchase_order_line_id: int | None = None,
    unit_cost: Decimal | None = None,
) -> Receipt:
    """Receive stock of a lot at a site (`site_id`; the clinic's only site when none is named):
    a new lot, or more of a lot already on that site's shelf (a `receive` movement on it). An
    expiry already past is refused; for a known lot a different expiry is a conflict and a
    missing one keeps the stored date. A new lot is stored where the product usually is,
    unless `storage` says otherwise.

    Named, the purchase order line counts the receipt (`purchase_orders.receive_on_line`: a
    409 past its tolerance). The lot and its product cost `unit_cost` a unit, else the
    line's price when there is one: the product's cost is its last receipt's."""
    _check_positive(quantity)
    if unit_cost is not None and unit_cost < 0:
        raise Invalid({"unit_cost": ["Cannot be negative."]})
    site_id = stock_site_id(site_id)
    receipt = _receive_lot(
        product_id=product_id, lot_number=lot_number, expiry=expiry, quantity=quantity,
        user_id=user_id, now=now, supplier=supplier, storage=storage, received_at=received_at,
        quarantine=quarantine, expiry_field=expiry_field, site_id=site_id,
    )  # fmt: skip
    if purchase_order_line_id is not None:
        line = receive_on_line(
            purchase_order_line_id,
            product_id=receipt.lot.product_id,
            site_id=site_id,
            quantity=quantity,
            now=now,
        )
        if unit_cost is None:
            unit_cost = line.unit_price
    if unit_cost is not None:
        receipt.lot.unit_cost = unit_cost
        receipt.lot.product.unit_cost = unit_cost
        db.session.flush()
    return receipt


def _receive_lot(
    *,
    product_id: int,
    lot_number: str,
    expiry: Expiry | None,
    quantity: Decimal,
    user_id: int | None,
    now: datetime,
    supplier: str | None,
    storage: Storage | str | None,
    received_at: datetime | None,
    quarantine: bool,
    expiry_field: str,
    site_id: int,
) -> Receipt:
    product = db.session.get(Product, product_id)
    if product is None:
        raise Invalid({"product_id": ["No such product."]})
    lot_number = lot_number.strip()
    if not lot_number:
        raise Invalid({"lot_number": ["A lot number is required."]})
    lot = find_lot(product.id, lot_number, site_id=site_id)
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
        site_id=site_id,
        product_id=product.id,
        lot_number=lot_number,
        expiry_date=expiry.day,
        expiry_month_only=expiry.month_only,
        effective_expiry=effective_expiry(
            expiry.day, None, days_after_opening=product.days_after_opening
        ),
        quantity_on_hand=Decimal(0),
        status=LotStatus.QUARANTINE if quarantine else LotStatus.AVAILABLE,
        received_at=received_at,
        supplier=supplier,
        storage=Storage(storage) if storage else product.storage,
    )
    try:
        with db.session.begin_nested():
            db.session.add(lot)
            db.session.flush()
    except IntegrityError:
        # The first box of the same lot was received at the same moment (PostgreSQL: the
        # insert waited for the other one's commit): this stock joins that lot.
        lot = find_lot(product.id, lot_number, site_id=site_id)
        if lot is None:
            raise
        _receive_more(lot, expiry, quantity, user_id, now, expiry_field)
        return Receipt(lot, created=False)
    post_movement(
        lot, MovementKind.RECEIVE, quantity=quantity, reason="received", user_id=user_id, now=now
    )
    return Receipt(lot, created=True)


def product_for_barcode(label: BoxLabel) -> Product:
    """The product whose GTIN the scanned barcode carries."""
    product = product_for_gtin(label.gtin)
    if product is None:
        raise Invalid({"barcode": [f"No product has GTIN {label.gtin}: add the product first."]})
    return product


def receive_scanned(
    barcode: str,
    *,
    quantity: Decimal,
    user_id: int | None,
    now: datetime,
    product_id: int | None = None,
    lot_number: str | None = None,
    expiry: Expiry | None = None,
    **details,
) -> Receipt:
    """Receive from a scanned GS1 barcode. The barcode says which product, lot and expiry; a
    typed field fills in what it leaves out (an expiry many labels do not encode) and must not
    contradict what it says."""
    label = read_barcode(barcode)
    product = product_for_barcode(label)
    _refuse_contradictions(label, product, product_id, lot_number, expiry)
    scanned = Expiry(label.expiry_date, label.expiry_month_only) if label.expiry_date else None
    return receive(
        product_id=product.id,
        lot_number=label.lot_number,
        expiry=scanned or expiry,
        quantity=quantity,
        user_id=user_id,
        now=now,
        expiry_field="barcode" if scanned else "expiry_date",
        **details,
    )


def _refuse_contradictions(
    label: BoxLabel,
    product: Product,
    product_id: int | None,
    lot_number: str | None,
    expiry: Expiry | None,
) -> None:
    errors = {}
    if product_id and product_id != product.id:
        errors["product_id"] = [f"The barcode is for {product.name}."]
    if lot_number and lot_number.strip() and lot_number.strip() != label.lot_number:
        errors["lot_number"] = [f"The barcode says lot {label.lot_number}."]
    if expiry and label.expiry_date and expiry.day != label.expiry_date:
        errors["expiry_date"] = [f"The barcode says {day_text(label.expiry_date)}."]
    if errors:
        raise Invalid(errors, message="The typed fields contradict the scanned barcode.")


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
            f"Lot {lot.lot_number} is stored with expiry {day_text(lot.expiry_date)}, "
            f"not {day_text(expiry.day)}: check the box.",
            {expiry_field: ["Differs from the stored expiry of this lot."]},
        )
    _check_not_expired(lot.expiry_date, now, expiry_field)
    post_movement(
        lot, MovementKind.RECEIVE, quantity=quantity, reason="received", user_id=user_id, now=now
    )


def release(lot_id: int, *, user: User | None, now: datetime) -> Lot:
    """A quarantined lot becomes available. A compounded batch's lot is released by its second
    check (`inventory.second_check`): by a pharmacist other than the one who prepared it, who
    is recorded on the batch as having verified it."""
    lot = get_lot(lot_id, lock=True)
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(
            f"Lot {lot.lot_number} is {lot.status.value}: only a quarantined lot can be released."
        )
    batch = batch_of_lot(lot.id)
    if batch is not None:
        check_second_pharmacist(batch, lot, pharmacist=user)
        record_verification(batch, pharmacist=user, now=now)
    lot.status = LotStatus.AVAILABLE
    lot.status_reason = None  # why it was held, if it was: the audit log keeps it
    db.session.flush()
    return lot


def quarantine(lot_id: int, reason: str) -> Lot:
    """Hold an available lot back from use while a doubt is looked into (an adverse signal,
    a damaged delivery): nothing is taken from it until a pharmacist releases it (`release`;
    a compounded batch's lot by its second check again). The reason stays on the lot."""
    _check_reason(reason)
    lot = get_lot(lot_id, lock=True)
    if lot.status != LotStatus.AVAILABLE:
        raise Conflict(
            f"Lot {lot.lot_number} is {lot.status.value}: only an available lot can be put "
            "in quarantine."
        )
    lot.status = LotStatus.QUARANTINE
    lot.status_reason = reason
    db.session.flush()
    return lot


def open_lot(lot_id: int, now: datetime, *, opened_at: datetime | None = None) -> Lot:
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
    # People type a moment to the minute: the minute the lot was received is not "before" it.
    if opened_at < lot.received_at.replace(second=0, microsecond=0):
        raise Invalid(
            {"opened_at": [f"Before the lot was received ({moment_text(lot.received_at)})."]}
        )
    lot.opened_at = max(opened_at, lot.received_at)
    refresh_effective_expiry(lot, lot.product.days_after_opening)
    db.session.flush()
    return lot


def adjust(
    lot_id: int, quantity: Decimal, *, reason: str, user_id: int | None, now: datetime
) -> Lot:
    """A counted correction, up or down; never below zero."""
    if quantity == 0:
        raise Invalid({"quantity": ["An adjustment changes the quantity: it cannot be 0."]})
    _check_reason(reason)
    lot = get_lot(lot_id, lock=True)
    if lot.status == LotStatus.DISPOSED:
        raise Conflict(f"Lot {lot.lot_number} is disposed of.")
    post_movement(
        lot, MovementKind.ADJUST, quantity=quantity, reason=reason, user_id=user_id, now=now
    )
    return lot


def dispose(
    lot_id: int,
    reason: str,
    *,
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
        post_movement(
            lot, MovementKind.DISPOSE, quantity=-amount, reason=reason, user_id=user_id, now=now
        )
    if lot.quantity_on_hand == 0 and lot.status != LotStatus.RECALLED:
        lot.status = LotStatus.DISPOSED
        lot.status_reason = reason
    db.session.flush()
    return lot


def recall(lot_id: int, reason: str, *, now: datetime | None = None) -> Lot:
    """A recalled lot is never usable again, whatever its stock or status, nor are its copies
    at the chain's other sites (the same stock, sent by transfers): each is recalled with it
    and raises its own site's alert. The alerts are raised in the same transaction: the recall
    and its alerts exist together or not at all."""
    _check_reason(reason)
    lot = get_lot(lot_id, lock=True)
    if lot.status == LotStatus.RECALLED:
        raise Conflict(f"Lot {lot.lot_number} is already recalled.")
    now = now or utcnow()
    for recalled in (lot, *transferred_copies(lot.id)):
        if recalled.status == LotStatus.RECALLED:
            continue
        recalled.status = LotStatus.RECALLED
        recalled.status_reason = reason
        db.session.flush()
        raise_recall_alert(recalled, reason, now=now)
    return lot


def _check_not_expired(expiry_date: date, now: datetime, field: str) -> None:
    today = clinic_today(now)
    if expiry_date < today:
        raise Invalid(
            {field: [f"Expired on {day_text(expiry_date)}, before today ({day_text(today)})."]}
        )


def _check_positive(quantity: Decimal) -> None:
    if quantity <= 0:
        raise Invalid({"quantity": ["Must be more than 0."]})


def _check_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise Invalid({"reason": ["A reason is required."]})


# --- where a lot stands, and the list of every lot ----------------------------------------------


class LotState(enum.StrEnum):
    """Where a lot stands on the shelf, as a pharmacist sorts lots: its status, with a released
    lot that has nothing left told apart from one that still holds stock."""

    QUARANTINE = "quarantine"
    AVAILABLE = "available"
    EMPTY = "empty"
    RECALLED = "recalled"
    DISPOSED = "disposed"


_STATE_CONDITIONS = {
    LotState.QUARANTINE: Lot.status == LotStatus.QUARANTINE,
    LotState.AVAILABLE: and_(Lot.status == LotStatus.AVAILABLE, Lot.quantity_on_hand > 0),
    LotState.EMPTY: and_(Lot.status == LotStatus.AVAILABLE, Lot.quantity_on_hand == 0),
    LotState.RECALLED: Lot.status == LotStatus.RECALLED,
    LotState.DISPOSED: Lot.status == LotStatus.DISPOSED,
}


def lot_state(lot: Lot) -> LotState:
    if lot.status == LotStatus.AVAILABLE and lot.quantity_on_hand == 0:
        return LotState.EMPTY
    return LotState(lot.status.value)


class Transition(enum.StrEnum):
    RELEASE = "release"
    QUARANTINE = "quarantine"
    OPEN = "open"
    ADJUST = "adjust"
    DISPOSE = "dispose"
    RECALL = "recall"


def transitions(lot: Lot) -> frozenset[Transition]:
    """What can still happen to the lot, as `release`, `quarantine`, `open_lot`, `adjust`,
    `dispose` and `recall` would allow it: a page offers only these."""
    allowed = set()
    if lot.status == LotStatus.QUARANTINE:
        allowed.add(Transition.RELEASE)
    if lot.status == LotStatus.AVAILABLE:
        allowed.add(Transition.QUARANTINE)
    if lot.status == LotStatus.AVAILABLE and lot.opened_at is None and lot.quantity_on_hand > 0:
        allowed.add(Transition.OPEN)
    if lot.status != LotStatus.DISPOSED:
        allowed |= {Transition.ADJUST, Transition.DISPOSE}
    if lot.status == LotStatus.RECALLED and lot.quantity_on_hand == 0:
        allowed.discard(Transition.DISPOSE)  # nothing left to throw away; it stays recalled
    if lot.status != LotStatus.RECALLED:
        allowed.add(Transition.RECALL)
    return frozenset(allowed)


class LotSort(enum.StrEnum):
    EXPIRY = "expiry"
    LOT_NUMBER = "lot_number"
    PRODUCT = "product"
    ON_HAND = "on_hand"
    RECEIVED = "received"


_SORT_COLUMNS = {
    LotSort.EXPIRY: (Lot.effective_expiry,),
    LotSort.LOT_NUMBER: (Lot.lot_number,),
    LotSort.PRODUCT: (Product.name, Lot.effective_expiry),
    LotSort.ON_HAND: (Lot.quantity_on_hand,),
    LotSort.RECEIVED: (Lot.received_at,),
}


def lot_list(
    *,
    lot_number: str | None = None,
    product_id: int | None = None,
    site_ids: list[int] | None = None,
    state: LotState | str | None = None,
    status: LotStatus | str | None = None,
    storage: Storage | str | None = None,
    expires_from: date | None = None,
    expires_to: date | None = None,
    expiring_within_days: int | None = None,
    as_of: date | None = None,
    sort: LotSort | str = LotSort.EXPIRY,
    descending: bool = False,
) -> Select:
    """Every lot, whatever its state or date, with its product loaded, as one select to page
    through: `site_ids` keeps the lots of those sites (None: every site); `lot_number` is
    found anywhere in the lot number, whatever its case; the expiry
    range (both days included) is on the last day of use; `expiring_within_days` keeps the lots
    not yet past it on `as_of` (default today) that reach it within that many days. Sorted by
    `sort`, then by id, so that pages never overlap."""
    if expires_from and expires_to and expires_to < expires_from:
        raise Invalid(
            {"expires_to": [f"Before the start of the range ({day_text(expires_from)})."]}
        )
    stmt = select(Lot).join(Lot.product).options(contains_eager(Lot.product))
    if lot_number and lot_number.strip():
        stmt = stmt.where(Lot.lot_number.icontains(lot_number.strip(), autoescape=True))
    if product_id is not None:
        stmt = stmt.where(Lot.product_id == product_id)
    if site_ids is not None:
        stmt = stmt.where(Lot.site_id.in_(site_ids))
    if state is not None:
        stmt = stmt.where(_STATE_CONDITIONS[LotState(state)])
    if status is not None:
        stmt = stmt.where(Lot.status == LotStatus(status))
    if storage is not None:
        stmt = stmt.where(Lot.storage == Storage(storage))
    if expires_from is not None:
        stmt = stmt.where(Lot.effective_expiry >= expires_from)
    if expires_to is not None:
        stmt = stmt.where(Lot.effective_expiry <= expires_to)
    if expiring_within_days is not None:
        first_day = as_of or clinic_today()
        last_day = first_day + timedelta(days=expiring_within_days)
        stmt = stmt.where(Lot.effective_expiry >= first_day, Lot.effective_expiry <= last_day)
    columns = (*_SORT_COLUMNS[LotSort(sort)], Lot.id)
    return stmt.order_by(*(column.desc() if descending else column for column in columns))

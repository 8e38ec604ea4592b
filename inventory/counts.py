"""Stock counts (cycle counts): a sheet of the lots a site's shelves should hold, counted
blind, then compared with the ledger and, once approved, corrected by one `adjust` movement
per lot whose count differs.

- **Open**: the sheet lists the lots to count (the site's lots holding stock, not disposed of,
  of the products or the storage asked for) without what the ledger says they hold. The
  counter enters what is on the shelf, by lot or by scanning a box's GS1 barcode; a box of the
  site that the sheet did not list joins it.
- **Submitted**: each line's `expected` is the lot's quantity on hand at that moment (the
  ledger's sum), so that what was dispensed or received while the shelf was counted is
  accounted for; a lot never entered was not found, and counts as 0. `variance` is counted
  less expected. A variance beyond the clinic's thresholds (COUNT_APPROVAL_QUANTITY units, or
  COUNT_APPROVAL_VALUE of the product's unit cost where it has one) needs a second
  pharmacist's approval: the one who submitted cannot approve it.
- **Approved**: each non-zero variance is posted as an `adjust` movement, with the count's
  reference in its reason. What moved between submission and approval is already in the
  ledger and was not on the shelf when it was counted: the adjustment is the variance recorded
  at submission, not a new difference against today's quantity.
- **Cancelled**: an open or submitted count is dropped; nothing is adjusted.

Each step from one status to the next is a conditional update (`... WHERE status = :from`):
of two approvals at once only one finds the count still submitted, so a variance is never
posted twice, on SQLite and on PostgreSQL.
"""

import dataclasses
import enum
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Select,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.orm import (
    Mapped,
    contains_eager,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)
from sqlalchemy.orm.attributes import set_committed_value

from core.accounts import User
from core.audit import record
from core.clock import utcnow
from core.database import UTCDateTime, db, value_enum
from core.errors import Conflict, Invalid, NotFound
from core.sites import Site, require_site
from inventory.barcodes import read_barcode
from inventory.ledger import post_movement
from inventory.models import (
    QUANTITY_MAX,
    Lot,
    LotStatus,
    MovementKind,
    Product,
    Quantity,
    Storage,
)
from inventory.products import product_for_gtin

# The most lots one sheet holds: a count is of a shelf, a fridge or some products, counted in
# one go (a larger one is counted by storage or by product).
COUNT_LINES_MAX = 500
SUBMITTER_CANNOT_APPROVE = (
    "A variance beyond the clinic's threshold needs a second pharmacist: the one who submitted "
    "the count cannot approve it."
)


class CountStatus(enum.StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CANCELLED = "cancelled"


class StockCount(db.Model):
    """One count of a site's shelves, from its sheet to its approval."""

    __tablename__ = "counts"
    __table_args__ = (
        # A variance beyond the threshold is approved by a second pharmacist.
        CheckConstraint(
            "approved_by_id IS NULL OR submitted_by_id IS NULL OR NOT needs_second_approval"
            " OR approved_by_id <> submitted_by_id",
            name="approved_by_a_second_pharmacist",
        ),
        # The count list: a site's counts (of a status), newest first; every site's by status.
        Index("ix_counts_site_id_status_id", "site_id", "status", "id"),
        Index("ix_counts_status_id", "status", "id"),
        Index("ix_counts_created_by_id", "created_by_id"),
        Index("ix_counts_submitted_by_id", "submitted_by_id"),
        Index("ix_counts_approved_by_id", "approved_by_id"),
        Index("ix_counts_cancelled_by_id", "cancelled_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    status: Mapped[CountStatus] = mapped_column(value_enum(CountStatus), default=CountStatus.OPEN)
    # What the sheet was made of: one storage, or every storage (None); products are its lines.
    storage: Mapped[Storage | None] = mapped_column(value_enum(Storage))
    needs_second_approval: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    site: Mapped[Site] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    lines: Mapped[list["CountLine"]] = relationship(back_populates="count", order_by="CountLine.id")

    @property
    def reference(self) -> str:
        """How the count is named on the shelf and in the ledger's reasons: COUNT-00012."""
        return f"COUNT-{self.id:05d}"

    @property
    def created_by_name(self) -> str | None:
        return _name(self.created_by)

    @property
    def submitted_by_name(self) -> str | None:
        return _name(self.submitted_by)

    @property
    def approved_by_name(self) -> str | None:
        return _name(self.approved_by)

    @property
    def cancelled_by_name(self) -> str | None:
        return _name(self.cancelled_by)


def _name(user: User | None) -> str | None:
    return user.username if user is not None else None


class CountLine(db.Model):
    """One lot of a count: what was counted on the shelf and, once submitted, what the ledger
    held then and the difference."""

    __tablename__ = "count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "lot_id", name="uq_count_lines_count_id_lot_id"),
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"),
        CheckConstraint(
            "(expected IS NULL) = (variance IS NULL)", name="expected_and_variance_together"
        ),
        Index("ix_count_lines_lot_id", "lot_id"),
        Index("ix_count_lines_counted_by_id", "counted_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("counts.id", ondelete="CASCADE"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    # Found on the shelf while counting, not listed on the sheet when it was made.
    added: Mapped[bool] = mapped_column(default=False)
    # None until entered; a line never entered is counted 0 at submission.
    counted: Mapped[Decimal | None] = mapped_column(Quantity)
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ledger's quantity at submission, and counted - expected: None while the count is open.
    expected: Mapped[Decimal | None] = mapped_column(Quantity)
    variance: Mapped[Decimal | None] = mapped_column(Quantity)

    count: Mapped[StockCount] = relationship(back_populates="lines")
    lot: Mapped[Lot] = relationship()

    @property
    def entered(self) -> bool:
        """Whether someone entered what the shelf holds (else it was not found: 0)."""
        return self.counted_at is not None

    @property
    def lot_number(self) -> str:
        return self.lot.lot_number

    @property
    def product_id(self) -> int:
        return self.lot.product_id

    @property
    def product_name(self) -> str:
        return self.lot.product.name

    @property
    def unit(self) -> str:
        return self.lot.product.unit


@dataclasses.dataclass(frozen=True)
class Entry:
    """What the counter says of one lot: the lot (by id, or by a scanned GS1 barcode) and how
    much of it is on the shelf; `field` names it in errors (`0` for the first of a request)."""

    counted: Decimal
    lot_id: int | None = None
    barcode: str | None = None
    field: str = "0"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Beyond these a variance needs a second pharmacist's approval."""

    quantity: Decimal
    value: Decimal


def approval_thresholds() -> Thresholds:
    """The clinic's thresholds (COUNT_APPROVAL_QUANTITY, COUNT_APPROVAL_VALUE)."""
    config = current_app.config
    return Thresholds(
        Decimal(config["COUNT_APPROVAL_QUANTITY"]), Decimal(config["COUNT_APPROVAL_VALUE"])
    )


def unit_cost(product: Product) -> Decimal | None:
    """What one unit of the product cost, where the clinic records it (purchasing keeps it on
    the product as `unit_cost`); None where it does not."""
    cost = getattr(product, "unit_cost", None)
    return None if cost is None else Decimal(cost)


def beyond_threshold(line: CountLine, thresholds: Thresholds) -> bool:
    """Whether the line's variance needs a second pharmacist: more units than the quantity
    threshold, or worth more than the value threshold at the product's unit cost."""
    if line.variance is None or line.variance == 0:
        return False
    if abs(line.variance) > thresholds.quantity:
        return True
    cost = unit_cost(line.lot.product)
    return cost is not None and abs(line.variance) * cost > thresholds.value


# --- reading ----------------------------------------------------------------------------------


def get_count(count_id: int, *, lock: bool = False) -> StockCount:
    """The count with its lines, their lots and products; with `lock`, its row is locked for
    the rest of the transaction (PostgreSQL) and re-read."""
    stmt = (
        select(StockCount)
        .where(StockCount.id == count_id)
        .options(_lines_loaded(), *_people_loaded())
    )
    if lock:
        stmt = stmt.with_for_update(of=StockCount).execution_options(populate_existing=True)
    count = db.session.scalar(stmt)
    if count is None:
        raise NotFound(f"No count with id {count_id}.")
    return count


def count_for(user, count_id: int) -> StockCount:
    """The count, for someone who works at its site (403 otherwise)."""
    count = get_count(count_id)
    require_site(user, count.site_id)
    return count


def _people_loaded() -> tuple:
    return tuple(
        joinedload(relation)
        for relation in (StockCount.site, StockCount.created_by, StockCount.submitted_by,
                         StockCount.approved_by, StockCount.cancelled_by)
    )  # fmt: skip


def _lines_loaded():
    return selectinload(StockCount.lines).joinedload(CountLine.lot).joinedload(Lot.product)


def count_list(
    *, site_ids: list[int] | None = None, status: CountStatus | str | None = None
) -> Select:
    """Counts newest first, of those sites (None: every site), of one status when given, with
    their site and who began, submitted, approved or cancelled each (joined: no query per
    count)."""
    stmt = select(StockCount).options(*_people_loaded()).order_by(StockCount.id.desc())
    if site_ids is not None:
        stmt = stmt.where(StockCount.site_id.in_(site_ids))
    if status is not None:
        stmt = stmt.where(StockCount.status == CountStatus(status))
    return stmt


def approval_refusal(count: StockCount, user: User | None) -> str | None:
    """Why that person may not approve the count now; None when they may."""
    if count.status != CountStatus.SUBMITTED:
        return (
            f"Count {count.reference} is {count.status.value}: only a submitted count is approved."
        )
    if (
        count.needs_second_approval
        and user is not None
        and count.submitted_by_id is not None
        and count.submitted_by_id == user.id
    ):
        return SUBMITTER_CANNOT_APPROVE
    return None


# --- the steps of a count ---------------------------------------------------------------------

# The lots a sheet lists: those of the site that hold stock and are not disposed of.
_ON_THE_SHEET = (Lot.status != LotStatus.DISPOSED, Lot.quantity_on_hand > 0)


def start_count(
    site_id: int,
    *,
    user: User,
    now: datetime,
    product_ids: list[int] | None = None,
    storage: Storage | str | None = None,
) -> StockCount:
    """A new open count of the site: its sheet lists the site's lots that hold stock, of the
    products given and of the storage given (both: either; neither: every lot), by product
    and lot number."""
    storage = Storage(storage) if storage else None
    conditions = [Lot.site_id == site_id, *_ON_THE_SHEET]
    if product_ids:
        _check_products(product_ids)
        conditions.append(Lot.product_id.in_(product_ids))
    if storage is not None:
        conditions.append(Lot.storage == storage)
    lot_ids = db.session.scalars(
        select(Lot.id)
        .join(Lot.product)
        .where(*conditions)
        .order_by(Product.name, Lot.lot_number, Lot.id)
        .limit(COUNT_LINES_MAX + 1)
    ).all()
    if len(lot_ids) > COUNT_LINES_MAX:
        field = "storage" if storage is None else "product_ids"
        raise Invalid(
            {field: [f"More than {COUNT_LINES_MAX} lots to count on one sheet: count one "
                     "storage or some products at a time."]}
        )  # fmt: skip
    count = StockCount(
        site_id=site_id, status=CountStatus.OPEN, storage=storage, created_by=user, created_at=now
    )
    db.session.add(count)
    db.session.flush()
    db.session.add_all(CountLine(count_id=count.id, lot_id=lot_id) for lot_id in lot_ids)
    db.session.flush()
    return count


def _check_products(product_ids: list[int]) -> None:
    wanted = set(product_ids)
    known = set(db.session.scalars(select(Product.id).where(Product.id.in_(wanted))))
    unknown = sorted(wanted - known)
    if unknown:
        raise Invalid({"product_ids": [f"No product with id {', '.join(map(str, unknown))}."]})


def record_counts(
    count_id: int, entries: list[Entry], *, user: User, now: datetime
) -> list[CountLine]:
    """Enter what the shelf holds, lot by lot (an entry again replaces the earlier one): the
    lines entered, in the entries' order. A lot of the site that the sheet does not list joins
    it; a lot of another site is refused, named by its entry's field."""
    count = get_count(count_id, lock=True)
    _check_status(count, CountStatus.OPEN, "only an open count is counted")
    lines = {line.lot_id: line for line in count.lines}
    entered = []
    for entry in entries:
        if entry.counted < 0 or entry.counted > QUANTITY_MAX:
            raise Invalid({f"{entry.field}.counted": [f"From 0 to {QUANTITY_MAX}."]})
        lot = _lot_of(entry, count)
        line = lines.get(lot.id)
        if line is None:
            if len(lines) >= COUNT_LINES_MAX:
                raise Conflict(
                    f"Count {count.reference} already holds {COUNT_LINES_MAX} lots: submit it "
                    "and count the rest on another sheet."
                )
            line = CountLine(count=count, lot=lot, added=True)
            db.session.add(line)
            lines[lot.id] = line
        line.counted = entry.counted
        line.counted_by_id = user.id
        line.counted_at = now
        entered.append(line)
    db.session.flush()
    return entered


def lot_to_count(count_id: int, *, barcode: str) -> Lot:
    """The lot a scanned box is of, as an entry would find it at the count's site (a 422 on
    `0.barcode` otherwise), without entering anything."""
    return _lot_of(Entry(counted=Decimal(0), barcode=barcode), get_count(count_id))


def _lot_of(entry: Entry, count: StockCount) -> Lot:
    """The lot an entry names, when it is at the count's site."""
    if entry.barcode is not None:
        field = f"{entry.field}.barcode"
        try:
            label = read_barcode(entry.barcode)
        except Invalid as error:
            raise Invalid({field: error.errors["barcode"]}) from None
        product = product_for_gtin(label.gtin)
        if product is None:
            raise Invalid({field: [f"No product has GTIN {label.gtin}."]})
        lots = db.session.scalars(
            select(Lot)
            .join(Lot.product)
            .options(contains_eager(Lot.product))
            .where(Lot.product_id == product.id, Lot.lot_number == label.lot_number)
            .order_by(Lot.site_id != count.site_id, Lot.id)
        ).all()
        if not lots:
            raise Invalid(
                {field: [f"No lot {label.lot_number} of {product.name} was received: receive it "
                         "on the stock board first."]}
            )  # fmt: skip
        lot = lots[0]
    else:
        field = f"{entry.field}.lot_id"
        lot = db.session.get(Lot, entry.lot_id) if entry.lot_id is not None else None
        if lot is None:
            raise Invalid({field: [f"No lot with id {entry.lot_id}."]})
    if lot.site_id != count.site_id:
        raise Invalid(
            {field: [f"Lot {lot.lot_number} is at {db.session.get(Site, lot.site_id).name}, not at "
                     f"{count.site.name} where this count is."]}
        )  # fmt: skip
    if lot.status == LotStatus.DISPOSED:
        raise Invalid({field: [f"Lot {lot.lot_number} is disposed of: it is not stock."]})
    return lot


def submit_count(count_id: int, *, user: User, now: datetime) -> StockCount:
    """Compare the count with the ledger as it is now: each line's expected quantity is its
    lot's quantity on hand at this moment (read with the lots locked, so that no movement lands
    between reading and recording it), a line never entered is counted 0 (its lot was not
    found), and the variance is counted less expected. Whether a second pharmacist must
    approve it is decided here, by the thresholds."""
    _move(get_count(count_id), CountStatus.OPEN, CountStatus.SUBMITTED,
          submitted_by_id=user.id, submitted_at=now)  # fmt: skip
    # Read again now that it is ours: an entry that landed while the step waited is on it.
    count = get_count(count_id, lock=True)
    lot_ids = [line.lot_id for line in count.lines]
    on_hand = dict(
        db.session.execute(
            select(Lot.id, Lot.quantity_on_hand)
            .where(Lot.id.in_(lot_ids))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    ) if lot_ids else {}  # fmt: skip
    thresholds = approval_thresholds()
    for line in count.lines:
        if line.counted is None:
            line.counted = Decimal(0)
        line.expected = Decimal(on_hand[line.lot_id])
        line.variance = line.counted - line.expected
    count.needs_second_approval = any(beyond_threshold(line, thresholds) for line in count.lines)
    db.session.flush()
    return count


def approve_count(count_id: int, *, user: User, now: datetime) -> StockCount:
    """Approve a submitted count: one `adjust` movement per lot whose variance is not zero, of
    that variance, its reason naming the count. A variance beyond the thresholds is approved
    by a pharmacist other than the one who submitted the count (409 otherwise). Of two
    approvals at once, the one that finds the count no longer submitted changes nothing."""
    count = get_count(count_id)
    refusal = approval_refusal(count, user)
    if refusal == SUBMITTER_CANNOT_APPROVE:
        raise Conflict(refusal, {"approved_by": [refusal]})
    _move(count, CountStatus.SUBMITTED, CountStatus.APPROVED, approved_by_id=user.id,
          approved_at=now)  # fmt: skip
    for line in count.lines:
        if not line.variance:
            continue
        lot = line.lot
        if lot.status == LotStatus.DISPOSED:
            raise Conflict(
                f"Lot {lot.lot_number} was disposed of after the count was submitted: cancel "
                "this count and count again."
            )
        try:
            post_movement(
                lot, MovementKind.ADJUST, quantity=line.variance, reason=adjust_reason(count, line),
                user_id=user.id, now=now,
            )  # fmt: skip
        except Conflict:
            raise Conflict(
                f"Lot {lot.lot_number} now holds {lot.quantity_on_hand}, less than the "
                f"{-line.variance} the count found missing: what left it since the count was "
                "submitted was not on the shelf. Cancel this count and count again.",
                lot_id=lot.id,
            ) from None
    return count


def adjust_reason(count: StockCount, line: CountLine) -> str:
    return (
        f"Stock count {count.reference}: counted {_number(line.counted)}, the ledger held "
        f"{_number(line.expected)}."
    )


def _number(quantity: Decimal) -> str:
    return f"{Decimal(quantity).normalize():f}"


def cancel_count(count_id: int, *, user: User, now: datetime) -> StockCount:
    """Drop an open or submitted count: nothing is adjusted."""
    count = get_count(count_id)
    if count.status not in (CountStatus.OPEN, CountStatus.SUBMITTED):
        _check_status(count, CountStatus.OPEN, "only an open or submitted count is cancelled")
    _move(count, count.status, CountStatus.CANCELLED, cancelled_by_id=user.id,
          cancelled_at=now)  # fmt: skip
    return count


def _check_status(count: StockCount, wanted: CountStatus, done: str) -> None:
    if count.status != wanted:
        raise Conflict(f"Count {count.reference} is {count.status.value}: {done}.")


_counts = StockCount.__table__


def _move(count: StockCount, old: CountStatus, new: CountStatus, **values) -> None:
    """Take the count from one status to the next, if it still is in the first: the database
    decides, on the row it changes (`... WHERE status = :old`), so that of two requests at
    once one moves it and the other is refused (409) and changes nothing. Written outside the
    ORM's flush, so recorded in the audit log here."""
    db.session.flush()
    moved = db.session.execute(
        update(_counts)
        .where(_counts.c.id == count.id, _counts.c.status == old)
        .values(status=new, **values)
        .returning(_counts.c.id)
    ).scalar()
    if moved is None:
        db.session.expire(count, ["status"])
        raise Conflict(
            f"Count {count.reference} is {count.status.value} already: it cannot be {new.value}."
        )
    set_committed_value(count, "status", new)
    for name, value in values.items():
        set_committed_value(count, name, value)
    for name in ("submitted_by", "approved_by", "cancelled_by"):
        if f"{name}_id" in values:
            db.session.expire(count, [name])
    logged = {name: value.isoformat() if isinstance(value, datetime) else value
              for name, value in values.items()}  # fmt: skip
    record(
        "update",
        StockCount.__tablename__,
        entity_id=count.id,
        changes={
            "status": {"old": old.value, "new": new.value},
            **{name: {"old": None, "new": value} for name, value in logged.items()},
        },
    )

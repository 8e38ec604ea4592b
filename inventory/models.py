"""Inventory tables: products, lots, the append-only movement ledger, and compounded batches
with the lots they consumed.

Quantities are exact decimals stored as whole millionths of the product's unit in an integer
column (`Quantity`): SQLite has no exact decimal type, and the ledger's sum must equal a lot's
`quantity_on_hand` to the last digit on every database, in SQL (`flask inventory verify`) as
much as in Python.
"""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.accounts import User
from core.clock import utcnow
from core.database import UTCDateTime, db, value_enum
from core.sites import Site
from formulary.models import Serum, Substance

QUANTITY_PLACES = 6
_SCALE = 10**QUANTITY_PLACES
# No lot, movement or request holds more than this many units (a bound far above any clinic's
# stock that keeps every sum of millionths inside a 64-bit column).
QUANTITY_MAX = 10**9


# Column lengths, also the limits every boundary checks before the database does.
LOT_NUMBER_LENGTH = 60
SUPPLIER_LENGTH = 160
PRODUCT_NAME_LENGTH = 160
STRENGTH_UNIT_LENGTH = 30


class Quantity(TypeDecorator):
    """An exact decimal amount with up to six decimal places, stored as an integer count of
    millionths so that SUM and comparisons in SQL are exact on SQLite too."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        scaled = Decimal(value) * _SCALE
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {QUANTITY_PLACES} decimal places")
        return int(scaled)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # Exact division keeps the natural exponent: 20000000 -> 20, 12500000 -> 12.5.
        return Decimal(int(value)) / _SCALE

    def coerce_compared_value(self, op, value):
        # `quantity_on_hand - :q` and `quantity_on_hand >= :q` bind :q as a Quantity too.
        return self


class ProductKind(enum.StrEnum):
    COMPONENT = "component"
    SERUM = "serum"
    CONSUMABLE = "consumable"


class LotStatus(enum.StrEnum):
    QUARANTINE = "quarantine"
    AVAILABLE = "available"
    RECALLED = "recalled"
    DISPOSED = "disposed"


class Storage(enum.StrEnum):
    ROOM = "room"
    REFRIGERATED = "refrigerated"
    FROZEN = "frozen"


class MovementKind(enum.StrEnum):
    RECEIVE = "receive"
    DISPENSE = "dispense"
    CONSUME = "consume"
    PRODUCE = "produce"
    ADJUST = "adjust"
    DISPOSE = "dispose"
    # Stock leaving one site's lot for another site, and arriving there (`inventory.transfers`).
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'component' AND substance_id IS NOT NULL AND serum_id IS NULL)"
            " OR (kind = 'serum' AND serum_id IS NOT NULL AND substance_id IS NULL)"
            " OR (kind = 'consumable' AND substance_id IS NULL AND serum_id IS NULL)",
            name="kind_reference",
        ),
        CheckConstraint("reorder_point >= 0", name="reorder_point_not_negative"),
        CheckConstraint(
            "days_after_opening IS NULL OR days_after_opening > 0",
            name="days_after_opening_positive",
        ),
        CheckConstraint(
            "(strength_value IS NULL) = (strength_unit IS NULL)", name="strength_value_and_unit"
        ),
        CheckConstraint("strength_value IS NULL OR strength_value > 0", name="strength_positive"),
        CheckConstraint(
            "strength_value IS NULL OR kind = 'component'", name="strength_of_component"
        ),
        Index("ix_products_kind_name", "kind", "name"),
        Index("ix_products_substance_id", "substance_id"),
        Index("ix_products_serum_id", "serum_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ProductKind] = mapped_column(value_enum(ProductKind))
    name: Mapped[str] = mapped_column(String(PRODUCT_NAME_LENGTH))
    unit: Mapped[str] = mapped_column(String(20))
    substance_id: Mapped[int | None] = mapped_column(
        ForeignKey("substances.id", ondelete="RESTRICT")
    )
    serum_id: Mapped[int | None] = mapped_column(ForeignKey("serums.id", ondelete="RESTRICT"))
    # Always the 14-digit form, so that a GTIN-13 on the box and a GTIN-14 in a GS1 barcode
    # find the same product.
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    reorder_point: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    days_after_opening: Mapped[int | None]
    # Where its lots are usually kept: receiving a lot takes it unless told otherwise.
    storage: Mapped[Storage] = mapped_column(
        value_enum(Storage), default=Storage.ROOM, server_default=Storage.ROOM.value
    )
    # A component's strength, how much of its substance one unit holds: 250 mg per mL.
    strength_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    strength_unit: Mapped[str | None] = mapped_column(String(STRENGTH_UNIT_LENGTH))
    # What one unit cost at its last receipt (its order line's price, or the cost given).
    unit_cost: Mapped[Decimal | None] = mapped_column(Quantity)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    substance: Mapped[Substance | None] = relationship()
    serum: Mapped[Serum | None] = relationship()

    @property
    def strength(self) -> dict | None:
        if self.strength_value is None:
            return None
        return {"value": self.strength_value, "unit": self.strength_unit}

    @property
    def strength_text(self) -> str:
        """`250 mg/mL`, or blank without a strength."""
        if self.strength_value is None:
            return ""
        return f"{format(Decimal(self.strength_value).normalize(), 'f')} {self.strength_unit}"


class Lot(db.Model):
    __tablename__ = "lots"
    __table_args__ = (
        # A lot number is the supplier's: the same lot may sit at several sites, once at each.
        UniqueConstraint(
            "site_id", "product_id", "lot_number", name="uq_lots_site_id_product_id_lot_number"
        ),
        CheckConstraint("quantity_on_hand >= 0", name="quantity_on_hand_not_negative"),
        CheckConstraint(
            "effective_expiry <= expiry_date", name="effective_expiry_not_after_expiry"
        ),
        # FEFO: usable lots of a product at a site, earliest effective expiry first, then earliest
        # received; with the quantity, the board's low-stock sums read this index alone.
        Index(
            "ix_lots_fefo_quantity",
            "site_id",
            "product_id",
            "status",
            "effective_expiry",
            "received_at",
            "quantity_on_hand",
        ),
        # Lot lists: by product (and expiring), by status (and expiring), expiring alone (paged
        # after a cursor on last day and id).
        Index("ix_lots_product_id_effective_expiry", "product_id", "effective_expiry"),
        Index(
            "ix_lots_status_effective_expiry_quantity",
            "status",
            "effective_expiry",
            "quantity_on_hand",
        ),
        Index("ix_lots_effective_expiry_id", "effective_expiry", "id"),
        # The lot list filtered by storage (and sorted by expiry).
        Index("ix_lots_storage_effective_expiry", "storage", "effective_expiry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The site whose shelves hold it: FEFO, usable and low stock are per site.
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    lot_number: Mapped[str] = mapped_column(String(LOT_NUMBER_LENGTH))
    # A month-only expiry ("07/2027", GS1 day 00) is stored as the month's last day.
    expiry_date: Mapped[date] = mapped_column(Date)
    expiry_month_only: Mapped[bool] = mapped_column(default=False)
    # Derived (expiry_date, opened_at, the product's days_after_opening), kept by the domain so
    # that FEFO and "expiring within N days" are plain indexed SQL.
    effective_expiry: Mapped[date] = mapped_column(Date)
    quantity_on_hand: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    status: Mapped[LotStatus] = mapped_column(value_enum(LotStatus), default=LotStatus.AVAILABLE)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    supplier: Mapped[str | None] = mapped_column(String(SUPPLIER_LENGTH))
    storage: Mapped[Storage] = mapped_column(value_enum(Storage), default=Storage.ROOM)
    # Why the lot was last recalled or disposed of (the audit log keeps the history).
    status_reason: Mapped[str | None] = mapped_column(Text)
    # What one unit of this lot cost (its order line's price, or the cost given at receipt).
    unit_cost: Mapped[Decimal | None] = mapped_column(Quantity)

    product: Mapped[Product] = relationship()
    site: Mapped[Site] = relationship()


class SiteReorderPoint(db.Model):
    """A product's reorder point at one site, in place of the product's own there: a busy
    site keeps more of it than a small one."""

    __tablename__ = "product_site_reorder_points"
    __table_args__ = (CheckConstraint("reorder_point >= 0", name="reorder_point_not_negative"),)

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    reorder_point: Mapped[Decimal] = mapped_column(Quantity)


class Movement(db.Model):
    """One line of the append-only stock ledger: a signed change of one lot's quantity."""

    __tablename__ = "movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_movements_lot_id_id", "lot_id", "id"),
        Index("ix_movements_user_id", "user_id"),
        # The value written off per month: the dispose movements of a range of days.
        Index("ix_movements_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    kind: Mapped[MovementKind] = mapped_column(value_enum(MovementKind))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lot: Mapped[Lot] = relationship()
    user: Mapped[User | None] = relationship()

    @property
    def username(self) -> str | None:
        return self.user.username if self.user is not None else None


@event.listens_for(Movement, "before_update")
@event.listens_for(Movement, "before_delete")
def _refuse_rewriting_the_ledger(mapper, connection, movement):
    """The ledger is append-only: a mistake is corrected by a new `adjust` movement."""
    raise RuntimeError(f"movement {movement.id} is part of the append-only ledger")


class Batch(db.Model):
    """An in-house compounding (SPEC 3.5), its compounding record: the serum lot it produced,
    who prepared it when, and the second pharmacist's check (`inventory.second_check`) that
    released its lot from quarantine or rejected it."""

    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("doses > 0", name="doses_positive"),
        # The check is by a second pharmacist, never the one who prepared the batch.
        CheckConstraint(
            "verified_by_id IS NULL OR made_by_id IS NULL OR verified_by_id <> made_by_id",
            name="verified_by_a_second_pharmacist",
        ),
        CheckConstraint(
            "rejected_by_id IS NULL OR made_by_id IS NULL OR rejected_by_id <> made_by_id",
            name="rejected_by_a_second_pharmacist",
        ),
        CheckConstraint("verified_at IS NULL OR rejected_at IS NULL", name="verified_or_rejected"),
        Index("ix_batches_serum_id", "serum_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serum_id: Mapped[int] = mapped_column(ForeignKey("serums.id", ondelete="RESTRICT"))
    # The new serum lot; one batch makes exactly one lot (the trace walks back through it).
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"), unique=True)
    doses: Mapped[Decimal] = mapped_column(Quantity)
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    storage: Mapped[Storage] = mapped_column(value_enum(Storage))
    # Preparation time + the serum's beyond-use days for that storage, before any lot's expiry.
    beyond_use_date: Mapped[date] = mapped_column(Date)
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The second pharmacist's check: verified (the lot released) or rejected (disposed of).
    # A batch made before the check existed (migration 0015) has neither.
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)

    lot: Mapped[Lot] = relationship()
    serum: Mapped[Serum] = relationship()
    made_by: Mapped[User | None] = relationship(foreign_keys=[made_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
    consumptions: Mapped[list["BatchConsumption"]] = relationship(
        back_populates="batch", order_by="BatchConsumption.id"
    )

    @property
    def prepared_by(self) -> str | None:
        """The preparer's username (None once their account is gone)."""
        return self.made_by.username if self.made_by is not None else None

    @property
    def verified_by_name(self) -> str | None:
        return self.verified_by.username if self.verified_by is not None else None

    @property
    def rejected_by_name(self) -> str | None:
        return self.rejected_by.username if self.rejected_by is not None else None


class BatchConsumption(db.Model):
    """One component lot a batch drew from, and how much (in that lot's product unit)."""

    __tablename__ = "batch_consumptions"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_batch_consumptions_batch_id", "batch_id"),
        # The recall trace: which batches a lot went into.
        Index("ix_batch_consumptions_lot_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="RESTRICT"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(20))

    batch: Mapped[Batch] = relationship(back_populates="consumptions")
    lot: Mapped[Lot] = relationship()

    @property
    def lot_number(self) -> str:
        return self.lot.lot_number


class TransferStatus(enum.StrEnum):
    DRAFT = "draft"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class Transfer(db.Model):
    """Stock sent from one site to another (`inventory.transfers`): drafted, shipped (the stock
    leaves the source), received (it arrives at the destination), or cancelled as a draft."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("from_site_id <> to_site_id", name="between_two_sites"),
        Index("ix_transfers_from_site_id_status", "from_site_id", "status"),
        Index("ix_transfers_to_site_id_status", "to_site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    to_site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    status: Mapped[TransferStatus] = mapped_column(
        value_enum(TransferStatus), default=TransferStatus.DRAFT
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    from_site: Mapped[Site] = relationship(foreign_keys=[from_site_id])
    to_site: Mapped[Site] = relationship(foreign_keys=[to_site_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    shipped_by: Mapped[User | None] = relationship(foreign_keys=[shipped_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    lines: Mapped[list["TransferLine"]] = relationship(
        back_populates="transfer", order_by="TransferLine.id", cascade="all, delete-orphan"
    )


class TransferLine(db.Model):
    """One lot on a transfer: how much was sent, how much arrived (and why less), the lot it
    arrived as, and the two ledger movements that moved it (`flask inventory verify` checks
    them against the line)."""

    __tablename__ = "transfer_lines"
    __table_args__ = (
        UniqueConstraint("transfer_id", "lot_id", name="uq_transfer_lines_transfer_id_lot_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "received_quantity IS NULL OR (received_quantity >= 0"
            " AND received_quantity <= quantity)",
            name="received_at_most_shipped",
        ),
        # The recall trace walks from a lot to its copies and back.
        Index("ix_transfer_lines_lot_id", "lot_id"),
        Index("ix_transfer_lines_received_lot_id", "received_lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="CASCADE"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    received_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    # Why less arrived than was sent (a short receipt).
    short_reason: Mapped[str | None] = mapped_column(Text)
    received_lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    shipped_movement_id: Mapped[int | None] = mapped_column(
        ForeignKey("movements.id", ondelete="RESTRICT"), unique=True
    )
    received_movement_id: Mapped[int | None] = mapped_column(
        ForeignKey("movements.id", ondelete="RESTRICT"), unique=True
    )

    transfer: Mapped[Transfer] = relationship(back_populates="lines")
    lot: Mapped[Lot] = relationship(foreign_keys=[lot_id])
    received_lot: Mapped[Lot | None] = relationship(foreign_keys=[received_lot_id])

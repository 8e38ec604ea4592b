"""The alert tables (SPEC 3.7): scan runs and the alerts they raise, and what an alert says."""

import enum
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Index,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from core.accounts import User
from core.clock import clinic_date, day_text, utcnow
from core.database import UTCDateTime, db, value_enum
from core.sites import Site
from inventory.models import Product, Quantity


class AlertKind(enum.StrEnum):
    EXPIRING = "expiring"
    EXPIRED = "expired"
    LOW_STOCK = "low_stock"
    SHORTFALL = "shortfall"
    RECALL = "recall"
    # Vigilance (clinic.vigilance): one lot's allergic reactions or severe side effects
    # reached the clinic's count within its window.
    ADVERSE_SIGNAL = "adverse_signal"
    PURCHASE_ORDER_LATE = "purchase_order_late"


# Most urgent first: the digest's order and the inbox's.
URGENCY = (
    AlertKind.RECALL,
    # Patients may be reacting to a lot still on the shelf: before anything about dates.
    AlertKind.ADVERSE_SIGNAL,
    AlertKind.EXPIRED,
    AlertKind.EXPIRING,
    AlertKind.SHORTFALL,
    AlertKind.LOW_STOCK,
    AlertKind.PURCHASE_ORDER_LATE,
)


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class ScanOutcome(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ScanRun(db.Model):
    """One run of the scan: when, for which day, how it ended and what it created."""

    __tablename__ = "scan_runs"
    __table_args__ = (
        # The health check and the scheduler's catch-up: the last successful run.
        Index("ix_scan_runs_outcome_started_at", "outcome", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[ScanOutcome] = mapped_column(
        value_enum(ScanOutcome), default=ScanOutcome.RUNNING
    )
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def day_text(self) -> str:
        """The day the run scanned for, and, when that is not the clinic's day it ran on (a
        look ahead at what the coming weeks will raise, or a catch-up), that day too."""
        ran_on = clinic_date(self.started_at)
        if self.as_of == ran_on:
            return day_text(self.as_of)
        kind = "a look ahead" if self.as_of > ran_on else "a catch-up"
        return f"{day_text(self.as_of)} ({kind}, run on {day_text(ran_on)})"


# Each condition is told once: the scan inserts `ON CONFLICT DO NOTHING` against these unique
# indexes, each alert entering one of them, on small integer keys. Their WHERE is SQL text,
# said alike by the indexes, the migration and the scan's conflict targets.
TOLD_ONCE = {
    # index name: (columns, the alerts it holds)
    # a lot once per expiry threshold it reaches;
    "uq_alerts_expiring_lot_id_threshold_days":
        (("lot_id", "threshold_days"), "kind = 'expiring'"),
    # a lot once past its last day of use, and once recalled;
    "uq_alerts_lot_once_lot_id_kind": (("lot_id", "kind"), "kind IN ('expired', 'recall')"),
    # a product once per site while it stays short there (low stock);
    "uq_alerts_low_stock_product_id_site_id":
        (("product_id", "site_id"), "kind = 'low_stock' AND NOT resolved"),
    # a product once while the forecast shows it short (the clinic's forecast).
    "uq_alerts_shortfall_product_id":
        (("product_id",), "kind = 'shortfall' AND NOT resolved"),
    # a lot once per vigilance window (its first day: clinic.vigilance).
    "uq_alerts_adverse_signal_lot_id_window_start":
        (("lot_id", "window_start"), "kind = 'adverse_signal'"),
    # a purchase order once, when its goods are late.
    "uq_alerts_purchase_order_late_purchase_order_id":
        (("purchase_order_id",), "kind = 'purchase_order_late'"),
}  # fmt: skip


def told_once_index(name: str) -> Index:
    columns, where = TOLD_ONCE[name]
    return Index(
        name, *columns, unique=True, sqlite_where=text(where), postgresql_where=text(where)
    )


class Alert(db.Model):
    """What a scan (or a recall) found, as it was then: an append-only log.

    No foreign keys: the domain writes only ids it has just read (lots, products, the running
    scan, the signed-in user), and none of those rows is ever deleted. A first scan over a
    large stock inserts one row per lot due, and each foreign key would check each of them
    again (on PostgreSQL four row triggers per alert: most of the scan's time)."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(
            "(status = 'open' AND acknowledged_at IS NULL)"
            " OR (status = 'acknowledged' AND acknowledged_at IS NOT NULL)",
            name="acknowledged_with_a_time",
        ),
        *(told_once_index(name) for name in TOLD_ONCE),
        # The inbox, newest first: every alert (0016's cursor index; also what one scan run
        # raised, `raised_by`), and by status, by status and kind, and the open counts per
        # kind. A list by kind alone (any status) walks the first one.
        Index("ix_alerts_created_at_id", "created_at", "id"),
        Index("ix_alerts_status_kind_created_at_id", "status", "kind", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(value_enum(AlertKind))
    product_id: Mapped[int]
    lot_id: Mapped[int | None]
    # Whose stock: the lot's site, or the site short of the product (none: the forecast's
    # clinic-wide shortfall).
    site_id: Mapped[int | None]
    threshold_days: Mapped[int | None]
    # Shortfall alerts: the first week the planned sessions need more than is usable.
    week_start: Mapped[date | None] = mapped_column(Date)
    # Adverse signals: the first day of the window (of `threshold_days` days) whose sessions
    # reached the signal count.
    window_start: Mapped[date | None] = mapped_column(Date)
    # A low-stock or shortfall alert whose product is no longer short: it stays in the inbox,
    # and the product's next shortage raises a new alert.
    resolved: Mapped[bool] = mapped_column(server_default=false())
    status: Mapped[AlertStatus] = mapped_column(value_enum(AlertStatus), default=AlertStatus.OPEN)
    # The clinic day the condition was found on.
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by_id: Mapped[int | None]
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scan_run_id: Mapped[int | None]
    # As the lot (or, for low stock, the product's usable stock) was when the alert was raised:
    # the digest and the inbox say what was seen, not what the lot has become since.
    lot_number: Mapped[str | None] = mapped_column(String(60))
    effective_expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    note: Mapped[str | None] = mapped_column(Text)
    # Late purchase orders: the order.
    purchase_order_id: Mapped[int | None]

    product: Mapped[Product] = relationship(
        primaryjoin=lambda: foreign(Alert.product_id) == Product.id
    )
    acknowledged_by: Mapped[User | None] = relationship(
        primaryjoin=lambda: foreign(Alert.acknowledged_by_id) == User.id
    )
    site: Mapped[Site | None] = relationship(
        primaryjoin=lambda: foreign(Alert.site_id) == Site.id, viewonly=True
    )

    @property
    def acknowledged_by_username(self) -> str | None:
        return self.acknowledged_by.username if self.acknowledged_by is not None else None

    @property
    def message(self) -> str:
        return alert_message(self.kind, self.product, alert=self)

    @property
    def window_end(self) -> date | None:
        """An adverse signal's last day of its window."""
        if self.window_start is None or self.threshold_days is None:
            return None
        return self.window_start + timedelta(days=self.threshold_days - 1)


def raised_by(run: ScanRun) -> tuple:
    """The conditions of the alerts a scan run raised (its digest, its answer to `POST
    /api/alerts/scan`): they carry the run's id, and its start as their `created_at`, so that
    they are one range of `ix_alerts_created_at_id` and need no index of their own."""
    return (Alert.created_at == run.started_at, Alert.scan_run_id == run.id)


def _amount(quantity: Decimal | None, unit: str) -> str:
    if quantity is None:
        return "unknown quantity"
    return f"{format(quantity.normalize(), 'f')} {unit}"


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "unknown date"


def alert_message(kind: AlertKind, product: Product, *, alert) -> str:
    """A sentence naming the product, the lot and the date that matter."""
    name, lot = product.name, alert.lot_number
    quantity = _amount(alert.quantity, product.unit)
    expiry = _day(alert.effective_expiry)
    if kind == AlertKind.EXPIRING:
        return (
            f"Lot {lot} of {name} reaches its last day of use on {expiry}, within "
            f"{alert.threshold_days} days; {quantity} on hand."
        )
    if kind == AlertKind.EXPIRED:
        return (
            f"Lot {lot} of {name} passed its last day of use on {expiry} with {quantity} "
            "still on hand: it can no longer be used and should be disposed of."
        )
    if kind == AlertKind.RECALL:
        reason = f" ({alert.note})" if alert.note else ""
        return (
            f"Lot {lot} of {name} (last day of use {expiry}) was recalled on "
            f"{_day(alert.as_of)}{reason} with {quantity} on hand: trace its batches and sessions."
        )
    if kind == AlertKind.ADVERSE_SIGNAL:
        return (
            f"Lot {lot} of {name}: {alert.note} in sessions from {_day(alert.window_start)} to "
            f"{_day(alert.window_end)}, {quantity} on hand: review the sessions, and quarantine "
            "or recall the lot."
        )
    if kind == AlertKind.PURCHASE_ORDER_LATE:
        return (
            f"Purchase order {alert.note}: its goods have not all come "
            f"(late on {_day(alert.as_of)})."
        )
    if kind == AlertKind.LOW_STOCK:
        return (
            f"On {_day(alert.as_of)} the usable stock of {name} was {quantity}, below its "
            f"reorder point of {_amount(product.reorder_point, product.unit)}."
        )
    return (
        f"Planned sessions need more {name} than will be usable in the week of "
        f"{_day(alert.week_start)} (forecast of {_day(alert.as_of)})."
    )


def digest_line(kind: AlertKind, product, *, alert) -> str:
    """One alert as a digest line: kind, product, lot number, effective expiry, quantity.
    `product` has the product's name and unit, `alert` the alert's columns: entities, or a
    row of those columns (the scan's digest)."""
    return (
        f"- {kind.value}: {product.name}; lot {alert.lot_number or '-'}; effective expiry "
        f"{_day(alert.effective_expiry) if alert.effective_expiry else '-'}; quantity "
        f"{_amount(alert.quantity, product.unit)}"
        + (f"; within {alert.threshold_days} days" if alert.threshold_days else "")
    )

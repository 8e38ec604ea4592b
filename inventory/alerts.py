"""Alerts (SPEC 3.7): what the administrators and pharmacists must act on before stock is
thrown away or runs out, stored before anything is sent.

The daily scan is set-based: each kind of alert is one `INSERT ... SELECT ... ON CONFLICT
(dedup_key) DO NOTHING` over the lots or products table, whatever their number, so that running
it twice, or in two processes at once, creates nothing twice. Each row a scan inserts carries
the scan's run id: "what this scan created" is `WHERE scan_run_id = :run`, which feeds the
answer of `POST /api/alerts/scan` and the e-mail digest of that scan.

Dedup keys:
- `expiring:{lot}:{days}`: the smallest threshold the lot's effective expiry falls within, so a
  lot first seen 20 days before its last day gets the 30-day alert only, and a 7-day one later;
- `expired:{lot}`; `recall:{lot}` (raised by the recall itself, in its transaction);
- `low_stock:{product}` while the shortage lasts; on recovery the scan rewrites the key to
  `low_stock:{product}:cleared:{alert}`, which releases it for the next shortage;
- `shortfall:{product}:{week_start}` (from the forecast).
"""

import enum
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from core.accounts import Role, User
from core.audit import record
from core.clock import clinic_today, utcnow
from core.database import UTCDateTime, db, value_enum
from core.errors import NotFound
from core.mail import queue_message
from inventory.expiry import usable_lot_conditions
from inventory.models import Lot, LotStatus, Product, Quantity
from inventory.stock import short_products

# No successful scan for longer than this, and the service reports itself degraded: a daily
# job that silently died is seen within a day and two hours.
SCAN_OVERDUE_AFTER = timedelta(hours=26)
# A digest lists at most this many alerts; the rest are counted and wait in the inbox.
DIGEST_MAX_LINES = 500
# Serialises scans on PostgreSQL (SQLite's BEGIN IMMEDIATE already does): two scans inserting
# the same keys in different orders could otherwise deadlock on each other's uncommitted rows.
SCAN_LOCK = 7_300_001

# Lots that hold stock someone could still use or release: expiry alerts are about them only.
_WATCHED_STATUSES = (LotStatus.AVAILABLE.value, LotStatus.QUARANTINE.value)


class AlertKind(enum.StrEnum):
    EXPIRING = "expiring"
    EXPIRED = "expired"
    LOW_STOCK = "low_stock"
    SHORTFALL = "shortfall"
    RECALL = "recall"


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


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(
            "(status = 'open' AND acknowledged_at IS NULL)"
            " OR (status = 'acknowledged' AND acknowledged_at IS NOT NULL)",
            name="acknowledged_with_a_time",
        ),
        # The inbox: by status, by kind (and status), newest first.
        Index("ix_alerts_status_created_at", "status", "created_at"),
        Index("ix_alerts_kind_status_created_at", "kind", "status", "created_at"),
        Index("ix_alerts_created_at", "created_at"),
        # What one scan created (its answer and its digest). No index on product or lot: no
        # query filters on them, and products and lots are never deleted; each index here is
        # paid for by every row a first scan over a large stock inserts.
        Index("ix_alerts_scan_run_id", "scan_run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(value_enum(AlertKind))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    threshold_days: Mapped[int | None]
    # Shortfall alerts: the first week the planned sessions need more than is usable.
    week_start: Mapped[date | None] = mapped_column(Date)
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[AlertStatus] = mapped_column(value_enum(AlertStatus), default=AlertStatus.OPEN)
    # The clinic day the condition was found on.
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id", ondelete="SET NULL"))
    # As the lot (or, for low stock, the product's usable stock) was when the alert was raised:
    # the digest and the inbox say what was seen, not what the lot has become since.
    lot_number: Mapped[str | None] = mapped_column(String(60))
    effective_expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    note: Mapped[str | None] = mapped_column(Text)

    product: Mapped[Product] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()

    @property
    def acknowledged_by_username(self) -> str | None:
        return self.acknowledged_by.username if self.acknowledged_by is not None else None

    @property
    def message(self) -> str:
        return alert_message(self.kind, self.product, self)


# --- the scan --------------------------------------------------------------------------------


def scan(
    as_of: date,
    run: ScanRun | None = None,
    now: datetime | None = None,
    shortfalls: Iterable[tuple[int | None, date]] = (),
) -> ScanRun:
    """Raise every alert due on `as_of` that was not raised before, queue one digest per
    recipient of what is new, and mark the run succeeded. Changes the session; never commits.

    `shortfalls` are the forecast's (product_id, first short week) pairs: the forecast reads
    the clinic's planned sessions, which the inventory does not import, so the caller passes
    them in (`clinic.forecast.shortfalls`)."""
    now = now or utcnow()
    if run is None:
        run = start_scan_run(as_of, now)
    _lock_scans()
    _widen_sqlite_page_cache()
    _raise_expiry_alerts(run, as_of, now)
    _clear_recovered_low_stock(as_of)
    _raise_low_stock(run, as_of, now)
    raise_shortfall_alerts(run, as_of, now, shortfalls)
    run.counts = created_counts(run.id)
    run.outcome = ScanOutcome.SUCCEEDED
    run.finished_at = utcnow()
    queue_scan_digest(run)
    record("scan", "alerts", run.id, {"as_of": as_of.isoformat(), "created": run.counts})
    db.session.flush()
    return run


def start_scan_run(as_of: date, now: datetime) -> ScanRun:
    run = ScanRun(as_of=as_of, started_at=now, outcome=ScanOutcome.RUNNING, counts={})
    db.session.add(run)
    db.session.flush()
    return run


def fail_scan_run(run_id: int, error: BaseException) -> None:
    """Record why a run failed (on a session whose scan work was rolled back)."""
    run = db.session.get(ScanRun, run_id)
    run.outcome = ScanOutcome.FAILED
    run.finished_at = utcnow()
    run.error = f"{type(error).__name__}: {error}"[:4000]
    db.session.flush()


def expiry_thresholds() -> tuple[int, ...]:
    """EXPIRY_ALERT_DAYS, most urgent first."""
    return tuple(sorted(current_app.config["EXPIRY_ALERT_DAYS"]))


def _lock_scans() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(SCAN_LOCK)))


def _widen_sqlite_page_cache() -> None:
    """SQLite's default 2 MB page cache spills the alert indexes to disk over and over when a
    first scan inserts many thousands of alerts; 64 MB keeps them in memory (this connection
    only)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("PRAGMA cache_size = -65536"))


def _dialect_insert():
    """INSERT with ON CONFLICT, which each dialect spells with its own construct."""
    dialect = db.session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _insert_new(select_stmt: Select, columns: Iterable[str]) -> None:
    """INSERT the selected alerts, skipping every dedup key that exists (or that a concurrent
    scan is inserting: PostgreSQL waits for it and then skips)."""
    stmt = (
        _dialect_insert()(Alert.__table__)
        .from_select(list(columns), select_stmt)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    db.session.execute(stmt)


def _text(value) -> object:
    return cast(value, String)


def _common_values(run: ScanRun, as_of: date, now: datetime) -> list:
    return [
        literal(AlertStatus.OPEN.value).label("status"),
        literal(as_of, Date).label("as_of"),
        literal(now, UTCDateTime).label("created_at"),
        literal(run.id, Integer).label("scan_run_id"),
    ]


_COMMON_COLUMNS = ["status", "as_of", "created_at", "scan_run_id"]
_LOT_COLUMNS = [
    "kind",
    *_COMMON_COLUMNS,
    "product_id",
    "lot_id",
    "lot_number",
    "effective_expiry",
    "quantity",
    "threshold_days",
    "dedup_key",
]


def _watched_lots():
    return (
        Lot.status.in_(_WATCHED_STATUSES),
        Lot.quantity_on_hand > 0,
    )


def _raise_expiry_alerts(run: ScanRun, as_of: date, now: datetime) -> None:
    """`expired` for every watched lot past its last day of use, and `expiring` for every one
    whose last day falls within a threshold (the most urgent one), in one pass over the lots."""
    thresholds = expiry_thresholds()
    horizon = as_of + timedelta(days=thresholds[-1]) if thresholds else as_of - timedelta(days=1)
    expired = Lot.effective_expiry < as_of
    kind = case((expired, AlertKind.EXPIRED.value), else_=AlertKind.EXPIRING.value)
    # The most urgent threshold whose window holds the lot's last day of use.
    threshold = case(
        (expired, None),
        *[(Lot.effective_expiry <= as_of + timedelta(days=days), days) for days in thresholds],
    )
    window = (
        select(
            Lot.id,
            Lot.product_id,
            Lot.lot_number,
            Lot.effective_expiry,
            Lot.quantity_on_hand,
            kind.label("kind"),
            threshold.label("threshold_days"),
        )
        .where(*_watched_lots(), Lot.effective_expiry <= horizon)
        .subquery()
    )
    lot_key = literal(":") + _text(window.c.id)
    dedup_key = case(
        (window.c.kind == AlertKind.EXPIRED.value, window.c.kind + lot_key),
        else_=window.c.kind + lot_key + ":" + _text(window.c.threshold_days),
    )
    due = select(
        window.c.kind,
        *_common_values(run, as_of, now),
        window.c.product_id,
        window.c.id,
        window.c.lot_number,
        window.c.effective_expiry,
        window.c.quantity_on_hand,
        window.c.threshold_days,
        dedup_key.label("dedup_key"),
    ).where(window.c.kind.is_not(None))  # SQLite's upsert wants a WHERE here
    _insert_new(due, _LOT_COLUMNS)


def _active_product_key(kind: AlertKind, product_id):
    """The key of a product's alert of a re-arming kind (low stock, shortfall) while it stands."""
    return literal(f"{kind.value}:") + _text(product_id)


def _release_product_keys(kind: AlertKind, *recovered) -> None:
    """Rewrite the standing key of the kind's alerts whose product matches `recovered`, in one
    UPDATE: the alert stays in the inbox, and the product's next shortage raises a new one."""
    key = _active_product_key(kind, Alert.product_id)
    db.session.execute(
        update(Alert)
        .where(Alert.kind == kind, Alert.dedup_key == key, *recovered)
        .values(dedup_key=key + ":cleared:" + _text(Alert.id))
        .execution_options(synchronize_session=False)
    )


def _clear_recovered_low_stock(as_of: date) -> None:
    """Release the key of every active low-stock alert whose product is no longer short, in
    one UPDATE: the next shortage of the product then raises a new alert. Only products with an
    active alert are summed (through the FEFO index), not the whole stock."""
    usable = (
        select(func.coalesce(func.sum(Lot.quantity_on_hand), 0))
        .where(Lot.product_id == Alert.product_id, *usable_lot_conditions(as_of))
        .scalar_subquery()
    )
    reorder_point = (
        select(Product.reorder_point).where(Product.id == Alert.product_id).scalar_subquery()
    )
    _release_product_keys(AlertKind.LOW_STOCK, usable >= reorder_point)


def _raise_low_stock(run: ScanRun, as_of: date, now: datetime) -> None:
    short = short_products(as_of)
    due = select(
        literal(AlertKind.LOW_STOCK.value).label("kind"),
        *_common_values(run, as_of, now),
        short.c.product_id,
        short.c.usable,
        _active_product_key(AlertKind.LOW_STOCK, short.c.product_id).label("dedup_key"),
    ).where(short.c.usable < short.c.reorder_point)
    _insert_new(due, ["kind", *_COMMON_COLUMNS, "product_id", "quantity", "dedup_key"])


def raise_shortfall_alerts(
    run: ScanRun, as_of: date, now: datetime, shortfalls: Iterable[tuple[int | None, date]]
) -> None:
    """One alert per product while the forecast shows it short, whichever week that is (the
    forecast's weeks start on `as_of` and move with it every day); once the forecast no longer
    shows the product short, its key is released like a recovered low stock, so a later
    shortage raises a new alert. A serum that no product stocks has nothing to alert on here:
    the forecast itself reports it."""
    first_short_week = {}
    for product_id, week_start in shortfalls:
        if product_id is not None:
            first_short_week.setdefault(product_id, week_start)
    _release_product_keys(
        AlertKind.SHORTFALL,
        Alert.product_id.not_in(list(first_short_week)) if first_short_week else true(),
    )
    if not first_short_week:
        return
    rows = [
        {
            "kind": AlertKind.SHORTFALL,
            "status": AlertStatus.OPEN,
            "as_of": as_of,
            "created_at": now,
            "scan_run_id": run.id,
            "product_id": product_id,
            "week_start": week_start,
            "dedup_key": f"shortfall:{product_id}",
        }
        for product_id, week_start in sorted(first_short_week.items())
    ]
    db.session.execute(
        _dialect_insert()(Alert).values(rows).on_conflict_do_nothing(index_elements=["dedup_key"])
    )


def created_counts(run_id: int) -> dict[str, int]:
    """Alerts a run created, per kind (every kind named, zero included)."""
    rows = db.session.execute(
        select(Alert.kind, func.count()).where(Alert.scan_run_id == run_id).group_by(Alert.kind)
    )
    counts = {kind.value: 0 for kind in AlertKind}
    counts.update({kind.value: count for kind, count in rows})
    return counts


def created_by(run_id: int) -> list[Alert]:
    return db.session.scalars(
        _with_details(select(Alert).where(Alert.scan_run_id == run_id).order_by(Alert.id))
    ).all()


# --- recall ----------------------------------------------------------------------------------


def raise_recall_alert(lot: Lot, reason: str, now: datetime) -> Alert | None:
    """The recall alert, raised by the recall itself in its transaction, and its e-mail queued
    at once: a recall does not wait for the next daily scan (the scheduler's outbox delivery
    sends it within minutes). None if the lot's recall alert exists already."""
    key = f"recall:{lot.id}"
    if db.session.scalar(select(Alert.id).where(Alert.dedup_key == key)) is not None:
        return None
    alert = Alert(
        kind=AlertKind.RECALL,
        product_id=lot.product_id,
        lot_id=lot.id,
        dedup_key=key,
        status=AlertStatus.OPEN,
        as_of=clinic_today(now),
        created_at=now,
        lot_number=lot.lot_number,
        effective_expiry=lot.effective_expiry,
        quantity=lot.quantity_on_hand,
        note=reason,
    )
    db.session.add(alert)
    db.session.flush()
    line = digest_line(alert.kind, lot.product, alert)
    subject = f"Recall: lot {lot.lot_number} of {lot.product.name}"
    for recipient in alert_recipients():
        queue_message(recipient, subject, f"A lot was recalled.\n\n{line}\n")
    return alert


# --- the inbox -------------------------------------------------------------------------------


def _with_details(stmt: Select) -> Select:
    # Everything the alert's shape and message need, in the same query.
    return stmt.options(joinedload(Alert.product), joinedload(Alert.acknowledged_by))


def inbox(status: AlertStatus | None = None, kind: AlertKind | None = None) -> Select:
    """Alerts newest first, optionally of one status and kind."""
    stmt = _with_details(select(Alert)).order_by(Alert.created_at.desc(), Alert.id.desc())
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    return stmt


def open_counts() -> dict[str, int]:
    """Open alerts per kind, every kind named (zero included): what is left to act on."""
    rows = db.session.execute(
        select(Alert.kind, func.count())
        .where(Alert.status == AlertStatus.OPEN)
        .group_by(Alert.kind)
    )
    counts = {kind.value: 0 for kind in AlertKind}
    counts.update({kind.value: count for kind, count in rows})
    return counts


def acknowledge(alert_id: int, user: User, now: datetime) -> Alert:
    """Mark the alert seen by this user. Acknowledging again keeps the first acknowledgement:
    the inbox says who saw it first and when."""
    alert = db.session.scalar(
        _with_details(select(Alert).where(Alert.id == alert_id))
        .with_for_update(of=Alert)
        .execution_options(populate_existing=True)
    )
    if alert is None:
        raise NotFound(f"No alert with id {alert_id}.")
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = user
    alert.acknowledged_at = now
    db.session.flush()
    return alert


# --- health ----------------------------------------------------------------------------------


def last_successful_scan() -> ScanRun | None:
    return db.session.scalar(
        select(ScanRun)
        .where(ScanRun.outcome == ScanOutcome.SUCCEEDED)
        .order_by(ScanRun.started_at.desc(), ScanRun.id.desc())
        .limit(1)
    )


def recent_scan_runs(limit: int) -> list[ScanRun]:
    """The scan history, latest run first."""
    return db.session.scalars(select(ScanRun).order_by(ScanRun.id.desc()).limit(limit)).all()


def last_scan_run() -> ScanRun | None:
    return db.session.scalar(select(ScanRun).order_by(ScanRun.id.desc()).limit(1))


def scan_overdue(last_scan_at: datetime | None, now: datetime) -> bool:
    """No successful scan yet, or none for longer than SCAN_OVERDUE_AFTER."""
    return last_scan_at is None or now - last_scan_at > SCAN_OVERDUE_AFTER


# --- messages and the digest -----------------------------------------------------------------


def _amount(quantity: Decimal | None, unit: str) -> str:
    if quantity is None:
        return "unknown quantity"
    return f"{format(quantity.normalize(), 'f')} {unit}"


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "unknown date"


def alert_message(kind: AlertKind, product: Product, alert) -> str:
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
    if kind == AlertKind.LOW_STOCK:
        return (
            f"On {_day(alert.as_of)} the usable stock of {name} was {quantity}, below its "
            f"reorder point of {_amount(product.reorder_point, product.unit)}."
        )
    return (
        f"Planned sessions need more {name} than will be usable in the week of "
        f"{_day(alert.week_start)} (forecast of {_day(alert.as_of)})."
    )


def digest_line(kind: AlertKind, product: Product, alert) -> str:
    """One alert as a digest line: kind, product, lot number, effective expiry, quantity."""
    return (
        f"- {kind.value}: {product.name}; lot {alert.lot_number or '-'}; effective expiry "
        f"{_day(alert.effective_expiry) if alert.effective_expiry else '-'}; quantity "
        f"{_amount(alert.quantity, product.unit)}"
        + (f"; within {alert.threshold_days} days" if alert.threshold_days else "")
    )


def alert_recipients() -> list[str]:
    """E-mail addresses that get alerts, each once: active administrators, and active users
    who opted in, with an address."""
    return db.session.scalars(
        select(User.email)
        .where(
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
            or_(User.role == Role.ADMIN, User.alert_emails.is_(True)),
        )
        .group_by(User.email)
        .order_by(User.email)
    ).all()


# Most urgent first in a digest.
_DIGEST_ORDER = case(
    {
        AlertKind.RECALL.value: 0,
        AlertKind.EXPIRED.value: 1,
        AlertKind.EXPIRING.value: 2,
        AlertKind.SHORTFALL.value: 3,
        AlertKind.LOW_STOCK.value: 4,
    },
    value=Alert.kind,
)


def queue_scan_digest(run: ScanRun) -> int:
    """One message per recipient listing what the run created; none when it created nothing.
    Answers the number of messages queued."""
    total = sum(run.counts.values())
    if total == 0:
        return 0
    recipients = alert_recipients()
    if not recipients:
        return 0
    rows = db.session.execute(
        select(Alert, Product)
        .join(Product, Product.id == Alert.product_id)
        .where(Alert.scan_run_id == run.id)
        .order_by(_DIGEST_ORDER, Alert.effective_expiry, Product.name, Alert.id)
        .limit(DIGEST_MAX_LINES)
    ).all()
    lines = [digest_line(alert.kind, product, alert) for alert, product in rows]
    if total > len(lines):
        lines.append(f"... and {total - len(lines)} more in the alert inbox.")
    summary = ", ".join(f"{count} {kind}" for kind, count in run.counts.items() if count)
    subject = f"Alerts of {run.as_of.isoformat()}: {summary}"
    body = (
        f"The alert scan of {run.as_of.isoformat()} found {total} new alert(s):\n\n"
        + "\n".join(lines)
        + "\n"
    )
    for recipient in recipients:
        queue_message(recipient, subject[:200], body)
    return len(recipients)

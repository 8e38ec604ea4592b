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

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.audit import record
from core.clock import clinic_today, utcnow
from core.database import UTCDateTime, db, widen_sqlite_page_cache
from core.mail import queue_message
from inventory.alerts.inbox import with_details
from inventory.alerts.models import Alert, AlertKind, AlertStatus, ScanOutcome, ScanRun
from inventory.alerts.notifications import alert_recipients, digest_line, queue_scan_digest
from inventory.expiry import expiry_alert_days, usable_lot_conditions
from inventory.models import Lot, LotStatus, Product
from inventory.stock import short_products

# Serialises scans on PostgreSQL (SQLite's BEGIN IMMEDIATE already does): two scans inserting
# the same keys in different orders could otherwise deadlock on each other's uncommitted rows.
SCAN_LOCK = 7_300_001

# Lots that hold stock someone could still use or release: expiry alerts are about them only.
WATCHED_STATUSES = (LotStatus.AVAILABLE.value, LotStatus.QUARANTINE.value)


def scan(
    as_of: date,
    run: ScanRun | None = None,
    *,
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
    widen_sqlite_page_cache()
    _raise_expiry_alerts(run, as_of, now)
    _clear_recovered_low_stock(as_of)
    _raise_low_stock(run, as_of, now)
    raise_shortfall_alerts(run, as_of, now=now, shortfalls=shortfalls)
    run.counts = created_counts(run.id)
    run.outcome = ScanOutcome.SUCCEEDED
    run.finished_at = utcnow()
    queue_scan_digest(run)
    record(
        "scan",
        "alerts",
        entity_id=run.id,
        changes={"as_of": as_of.isoformat(), "created": run.counts},
    )
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


def _lock_scans() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(SCAN_LOCK)))


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
        Lot.status.in_(WATCHED_STATUSES),
        Lot.quantity_on_hand > 0,
    )


def _raise_expiry_alerts(run: ScanRun, as_of: date, now: datetime) -> None:
    """`expired` for every watched lot past its last day of use, and `expiring` for every one
    whose last day falls within a threshold (the most urgent one), in one pass over the lots."""
    thresholds = expiry_alert_days()
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
    run: ScanRun, as_of: date, *, now: datetime, shortfalls: Iterable[tuple[int | None, date]]
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
        with_details(select(Alert).where(Alert.scan_run_id == run_id).order_by(Alert.id))
    ).all()


def raise_recall_alert(lot: Lot, reason: str, *, now: datetime) -> Alert | None:
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
    line = digest_line(alert.kind, lot.product, alert=alert)
    subject = f"Recall: lot {lot.lot_number} of {lot.product.name}"
    for recipient in alert_recipients():
        queue_message(recipient, subject, body=f"A lot was recalled.\n\n{line}\n")
    return alert

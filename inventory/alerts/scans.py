"""Alerts (SPEC 3.7): what the administrators and pharmacists must act on before stock is
thrown away or runs out, stored before anything is sent.

The daily scan is set-based: each kind of alert is one `INSERT ... SELECT ... ON CONFLICT DO
NOTHING` over the lots or products table, whatever their number, so that running it twice, or
in two processes at once, creates nothing twice. The conflict is on one of the unique indexes
of `models.TOLD_ONCE` (integer keys: a lot and its threshold, a lot and its kind, a product
and its kind while it stays short). Each statement's row count is what it created, so the
run's counts cost no query. Each row a scan inserts carries the scan's run id: "what this scan
created" is `models.raised_by(run)`, which feeds the answer of `POST /api/alerts/scan` and the
e-mail digest of that scan.

What is told once:
- `expiring`: once per lot and threshold, the most urgent threshold its effective expiry falls
  within, so a lot first seen 20 days before its last day gets the 30-day alert only, and a
  7-day one later;
- `expired`, and `recall` (raised by the recall itself, in its transaction): once per lot;
- `low_stock`: once per product and site while the site's shortage lasts; `shortfall` (from
  the forecast): once per product while it lasts; on recovery the scan marks the alert
  `resolved`, and the next shortage raises a new one.

The expiry alerts read the lots due through `ix_lots_status_effective_expiry_quantity` (about
one lot in five); low stock sums the usable lots per product from `ix_lots_fefo_quantity`
alone, per site. One pass over the lots for both would read every lot's row instead. Every
alert carries its site: a lot's alerts its lot's, low stock the site short.
"""

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    Integer,
    Select,
    case,
    func,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.audit import record
from core.clock import clinic_today, utcnow
from core.database import UTCDateTime, db, widen_sqlite_page_cache
from core.mail import queue_message
from inventory.alerts.inbox import with_details
from inventory.alerts.models import (
    TOLD_ONCE,
    Alert,
    AlertKind,
    AlertStatus,
    ScanOutcome,
    ScanRun,
    raised_by,
)
from inventory.alerts.notifications import alert_recipients, digest_line, queue_scan_digest
from inventory.expiry import expiry_alert_days
from inventory.models import Lot, LotStatus, Product
from inventory.purchase_orders import late_orders
from inventory.stock import reorder_point_at, short_products, usable_at

# Serialises scans on PostgreSQL (SQLite's BEGIN IMMEDIATE already does): two scans inserting
# the same keys in different orders could otherwise deadlock on each other's uncommitted rows.
SCAN_LOCK = 7_300_001

# Lots that hold stock someone could still use or release: expiry alerts are about them only.
WATCHED_STATUSES = (LotStatus.AVAILABLE.value, LotStatus.QUARANTINE.value)

EXPIRING_ONCE = "uq_alerts_expiring_lot_id_threshold_days"
LOT_ONCE = "uq_alerts_lot_once_lot_id_kind"
LOW_STOCK_ONCE = "uq_alerts_low_stock_product_id_site_id"
SHORTFALL_ONCE = "uq_alerts_shortfall_product_id"
ADVERSE_SIGNAL_ONCE = "uq_alerts_adverse_signal_lot_id_window_start"
LATE_ORDER_ONCE = "uq_alerts_purchase_order_late_purchase_order_id"


def scan(
    as_of: date,
    run: ScanRun | None = None,
    *,
    now: datetime | None = None,
    shortfalls: Iterable[tuple[int | None, date]] = (),
    adverse_signals: Iterable["AdverseSignal"] = (),
) -> ScanRun:
    """Raise every alert due on `as_of` that was not raised before, queue one digest per
    recipient of what is new, and mark the run succeeded. Changes the session; never commits.
    The alerts are raised at the run's start (`now` starts one when none is given).

    `shortfalls` are the forecast's (product_id, first short week) pairs: the forecast reads
    the clinic's planned sessions, which the inventory does not import, so the caller passes
    them in (`clinic.forecast.shortfalls`); so are the adverse signals due, which read the
    clinic's side effects (`clinic.vigilance.signals_due_in_scan`)."""
    now = now or utcnow()
    if run is None:
        run = start_scan_run(as_of, now)
    _lock_scans()
    widen_sqlite_page_cache()
    created = {kind.value: 0 for kind in AlertKind}
    created.update(_raise_expiry_alerts(run, as_of))
    _resolve_recovered_low_stock(as_of)
    created[AlertKind.LOW_STOCK.value] = _raise_low_stock(run, as_of)
    created[AlertKind.SHORTFALL.value] = raise_shortfall_alerts(run, as_of, shortfalls=shortfalls)
    created[AlertKind.ADVERSE_SIGNAL.value] = len(
        raise_adverse_signals(adverse_signals, as_of=as_of, now=run.started_at, run=run)
    )
    created[AlertKind.PURCHASE_ORDER_LATE.value] = _raise_late_orders(run, as_of)
    run.counts = created
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


def _told_once(insert, index: str):
    """`ON CONFLICT (its columns) WHERE (its alerts) DO NOTHING` on one of TOLD_ONCE's
    indexes: an alert already told is skipped (one a concurrent scan is inserting too:
    PostgreSQL waits for it and then skips)."""
    columns, where = TOLD_ONCE[index]
    return insert.on_conflict_do_nothing(index_elements=list(columns), index_where=text(where))


def _insert_new(select_stmt: Select, columns: Iterable[str], *, told_once: str) -> int:
    """INSERT the selected alerts that were not told before; answers how many it created."""
    insert = _dialect_insert()(Alert.__table__).from_select(list(columns), select_stmt)
    return _created(_told_once(insert, told_once))


def _created(insert) -> int:
    # An INSERT's row count is kept past its cursor only when asked for (psycopg's is gone).
    return db.session.execute(insert.execution_options(preserve_rowcount=True)).rowcount


def _common_values(kind: AlertKind, run: ScanRun, as_of: date) -> list:
    # Raised at the run's start: its alerts are one range of the inbox's time index.
    return [
        literal(kind.value).label("kind"),
        literal(AlertStatus.OPEN.value).label("status"),
        literal(as_of, Date).label("as_of"),
        literal(run.started_at, UTCDateTime).label("created_at"),
        literal(run.id, Integer).label("scan_run_id"),
    ]


_COMMON_COLUMNS = ["kind", "status", "as_of", "created_at", "scan_run_id"]
# What an alert keeps of its lot, as the scan saw it.
_LOT_VALUES = (
    Lot.product_id,
    Lot.id,
    Lot.lot_number,
    Lot.effective_expiry,
    Lot.quantity_on_hand,
    Lot.site_id,
)
_LOT_COLUMNS = [
    *_COMMON_COLUMNS, "product_id", "lot_id", "lot_number", "effective_expiry", "quantity",
    "site_id",
]  # fmt: skip


def _watched_lots(*last_day_conditions) -> tuple:
    """Watched lots with stock whose last day of use meets the conditions."""
    return (Lot.status.in_(WATCHED_STATUSES), Lot.quantity_on_hand > 0, *last_day_conditions)


def _raise_expiry_alerts(run: ScanRun, as_of: date) -> dict[str, int]:
    """The expired and expiring alerts, one statement each over its own range of the lots'
    last days (every lot is read once), and how many of each were created."""
    return {
        AlertKind.EXPIRED.value: _raise_expired(run, as_of),
        AlertKind.EXPIRING.value: _raise_expiring(run, as_of),
    }


def _raise_expired(run: ScanRun, as_of: date) -> int:
    """`expired` for every watched lot past its last day of use."""
    due = select(*_common_values(AlertKind.EXPIRED, run, as_of), *_LOT_VALUES).where(
        *_watched_lots(Lot.effective_expiry < as_of)
    )
    return _insert_new(due, _LOT_COLUMNS, told_once=LOT_ONCE)


def _raise_expiring(run: ScanRun, as_of: date) -> int:
    """`expiring` for every watched lot whose last day falls within a threshold: the most
    urgent one whose window holds it."""
    thresholds = expiry_alert_days()
    if not thresholds:
        return 0
    threshold = case(
        *[(Lot.effective_expiry <= as_of + timedelta(days=days), days) for days in thresholds]
    )
    horizon = as_of + timedelta(days=thresholds[-1])
    due = select(*_common_values(AlertKind.EXPIRING, run, as_of), *_LOT_VALUES, threshold).where(
        *_watched_lots(Lot.effective_expiry >= as_of, Lot.effective_expiry <= horizon)
    )
    return _insert_new(due, [*_LOT_COLUMNS, "threshold_days"], told_once=EXPIRING_ONCE)


def _resolve(kind: AlertKind, *recovered) -> None:
    """Mark resolved the standing alerts of the kind whose product (and site) matches
    `recovered`, in one UPDATE (through the told-once index: at most one per product and
    site): the alert stays in the inbox, and the next shortage raises a new one."""
    db.session.execute(
        update(Alert)
        .where(Alert.kind == kind, Alert.lot_id.is_(None), ~Alert.resolved, *recovered)
        .values(resolved=True)
        .execution_options(synchronize_session=False)
    )


def _resolve_recovered_low_stock(as_of: date) -> None:
    """Resolve every standing low-stock alert whose product is no longer short at its site:
    the next shortage there then raises a new alert. Only products with a standing alert are
    summed (through the FEFO index, at the alert's site), not the whole stock."""
    usable = usable_at(Alert.product_id, Alert.site_id, as_of=as_of)
    reorder_point = (
        select(reorder_point_at(Product.id, Alert.site_id))
        .where(Product.id == Alert.product_id)
        .scalar_subquery()
    )
    _resolve(AlertKind.LOW_STOCK, usable >= reorder_point)


def _raise_low_stock(run: ScanRun, as_of: date) -> int:
    short = short_products(as_of)
    due = select(
        *_common_values(AlertKind.LOW_STOCK, run, as_of),
        short.c.product_id,
        short.c.site_id,
        short.c.usable,
    ).where(true())  # SQLite's upsert wants a WHERE before its ON CONFLICT
    columns = [*_COMMON_COLUMNS, "product_id", "site_id", "quantity"]
    return _insert_new(due, columns, told_once=LOW_STOCK_ONCE)


def raise_shortfall_alerts(
    run: ScanRun, as_of: date, *, shortfalls: Iterable[tuple[int | None, date]]
) -> int:
    """One alert per product while the forecast shows it short, whichever week that is (the
    forecast's weeks start on `as_of` and move with it every day); once the forecast no longer
    shows the product short, its alert is resolved like a recovered low stock, so a later
    shortage raises a new alert. A serum that no product stocks has nothing to alert on here:
    the forecast itself reports it. Answers how many alerts it created."""
    first_short_week = {}
    for product_id, week_start in shortfalls:
        if product_id is not None:
            first_short_week.setdefault(product_id, week_start)
    _resolve(
        AlertKind.SHORTFALL,
        Alert.product_id.not_in(list(first_short_week)) if first_short_week else true(),
    )
    if not first_short_week:
        return 0
    rows = [
        {
            "kind": AlertKind.SHORTFALL,
            "status": AlertStatus.OPEN,
            "as_of": as_of,
            "created_at": run.started_at,
            "scan_run_id": run.id,
            "product_id": product_id,
            "week_start": week_start,
        }
        for product_id, week_start in sorted(first_short_week.items())
    ]
    return _created(_told_once(_dialect_insert()(Alert.__table__).values(rows), SHORTFALL_ONCE))


def _raise_late_orders(run: ScanRun, as_of: date) -> int:
    """One alert per purchase order whose goods were due before `as_of` and have not all come
    (once per order, whatever comes after)."""
    rows = [
        {"kind": AlertKind.PURCHASE_ORDER_LATE, "status": AlertStatus.OPEN, "as_of": as_of,
         "created_at": run.started_at, "scan_run_id": run.id, "purchase_order_id": order_id,
         "site_id": site_id, "product_id": product_id, "note": note}
        for order_id, site_id, product_id, note in late_orders(as_of)
    ]  # fmt: skip
    if not rows:
        return 0
    return _created(_told_once(_dialect_insert()(Alert.__table__).values(rows), LATE_ORDER_ONCE))


def created_by(run_id: int) -> list[Alert]:
    run = db.session.get(ScanRun, run_id)
    return db.session.scalars(
        with_details(select(Alert).where(*raised_by(run)).order_by(Alert.id))
    ).all()


def raise_recall_alert(lot: Lot, reason: str, *, now: datetime) -> Alert | None:
    """The recall alert, raised by the recall itself in its transaction, and its e-mail queued
    at once: a recall does not wait for the next daily scan (the scheduler's outbox delivery
    sends it within minutes). None if the lot's recall alert exists already."""
    told = select(Alert.id).where(Alert.lot_id == lot.id, Alert.kind == AlertKind.RECALL)
    if db.session.scalar(told) is not None:
        return None
    alert = Alert(
        kind=AlertKind.RECALL,
        product_id=lot.product_id,
        lot_id=lot.id,
        status=AlertStatus.OPEN,
        as_of=clinic_today(now),
        created_at=now,
        lot_number=lot.lot_number,
        effective_expiry=lot.effective_expiry,
        quantity=lot.quantity_on_hand,
        note=reason,
        site_id=lot.site_id,
    )
    db.session.add(alert)
    db.session.flush()
    line = digest_line(alert.kind, lot.product, alert=alert)
    subject = f"Recall: lot {lot.lot_number} of {lot.product.name}"
    for recipient in alert_recipients(lot.site_id):
        queue_message(recipient, subject, body=f"A lot was recalled.\n\n{line}\n")
    return alert


@dataclasses.dataclass(frozen=True)
class AdverseSignal:
    """A lot whose sessions reached the signal count within a window (`clinic.vigilance`)."""

    lot_id: int
    window_start: date
    days: int  # the window's length
    sessions: int  # how many sessions with an allergic reaction or a severe side effect


def raise_adverse_signals(
    signals: Iterable[AdverseSignal], *, as_of: date, now: datetime, run: ScanRun | None = None
) -> list[int]:
    """One `adverse_signal` alert per signal not told before (once per lot and window), with
    the lot as it is now. Raised by the scan (`run`: its digest tells them), or when a side
    effect is recorded: then each one's e-mail is queued at once, as a recall's. Answers the
    ids of the alerts created."""
    signals = list(signals)
    if not signals:
        return []
    lots = {
        lot.id: lot
        for lot in db.session.scalars(
            select(Lot).where(Lot.id.in_(sorted({s.lot_id for s in signals})))
        )
    }
    rows = [
        {
            "kind": AlertKind.ADVERSE_SIGNAL,
            "status": AlertStatus.OPEN,
            "as_of": as_of,
            "created_at": now,
            "scan_run_id": run.id if run is not None else None,
            "product_id": lots[signal.lot_id].product_id,
            "lot_id": signal.lot_id,
            "site_id": lots[signal.lot_id].site_id,
            "lot_number": lots[signal.lot_id].lot_number,
            "effective_expiry": lots[signal.lot_id].effective_expiry,
            "quantity": lots[signal.lot_id].quantity_on_hand,
            "window_start": signal.window_start,
            "threshold_days": signal.days,
            "note": f"{signal.sessions} session{'' if signal.sessions == 1 else 's'} with an "
            "allergic reaction or a severe side effect",
        }
        for signal in signals
    ]
    insert = _dialect_insert()(Alert.__table__).values(rows)
    created = db.session.scalars(
        _told_once(insert, ADVERSE_SIGNAL_ONCE).returning(Alert.__table__.c.id)
    ).all()
    if run is None and created:
        _tell_adverse_signals(created)
    return list(created)


def _tell_adverse_signals(alert_ids: list[int]) -> None:
    """Each signal at once to those who receive alerts at its lot's site."""
    for alert in db.session.scalars(with_details(select(Alert).where(Alert.id.in_(alert_ids)))):
        subject = f"Adverse signal: lot {alert.lot_number} of {alert.product.name}"
        for recipient in alert_recipients(alert.site_id):
            queue_message(recipient, subject[:200], body=f"{alert.message}\n")

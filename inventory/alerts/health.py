"""Is the service able to do its job: the database answers, and the daily scan ran.

A scheduler that died says nothing; its silence is what this check sees: no successful scan
for longer than SCAN_OVERDUE_AFTER makes the service `degraded` (and so does a fresh install
that never scanned).
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from core.database import db
from core.mail import OutboxMessage, OutboxStatus
from inventory.alerts.models import ScanOutcome, ScanRun

log = logging.getLogger(__name__)

# No successful scan for longer than this, and the service reports itself degraded: a daily
# job that silently died is seen within a day and two hours.
SCAN_OVERDUE_AFTER = timedelta(hours=26)


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


def database_reachable() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        db.session.rollback()
        return False
    return True


def service_health(now: datetime) -> dict:
    """The health answer at `now`: degraded when the database fails or the scan is overdue."""
    if not database_reachable():
        return {
            "status": "degraded",
            "database": "error",
            "last_scan_at": None,
            "scan_overdue": True,
            "last_run_outcome": None,
            "mail_queued": None,
        }
    last_success = last_successful_scan()
    last_scan_at = last_success.finished_at if last_success is not None else None
    overdue = scan_overdue(last_scan_at, now)
    last_run = last_scan_run()
    return {
        "status": "degraded" if overdue else "ok",
        "database": "ok",
        "last_scan_at": last_scan_at,
        "scan_overdue": overdue,
        "last_run_outcome": last_run.outcome.value if last_run is not None else None,
        "mail_queued": db.session.scalar(
            select(func.count()).where(OutboxMessage.status == OutboxStatus.QUEUED)
        ),
    }

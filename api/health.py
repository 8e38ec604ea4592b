"""Is the service able to do its job: the database answers, and the daily scan ran.

A scheduler that died says nothing; its silence is what this check sees: no successful scan
for more than 26 hours makes the service `degraded` (and so does a fresh install that never
scanned).
"""

import logging
from datetime import datetime

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from core.clock import utcnow
from core.database import db
from core.mail import OutboxMessage, OutboxStatus
from inventory.alerts import last_scan_run, last_successful_scan, scan_overdue

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, url_prefix="/api", description="Service health.")


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "`ok` or `degraded`"})
    database = ma.fields.String(metadata={"description": "`ok` or `error`"})
    last_scan_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "When the last successful scan finished."}
    )
    scan_overdue = ma.fields.Boolean(
        metadata={"description": "No successful scan for more than 26 hours (or ever)."}
    )
    last_run_outcome = ma.fields.String(
        allow_none=True, metadata={"description": "`running`, `succeeded` or `failed`."}
    )
    mail_queued = ma.fields.Integer(
        allow_none=True, metadata={"description": "Messages waiting in the outbox."}
    )


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


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health():
    """Answers 200 while the process runs; `status` says whether it is doing its job."""
    return service_health(utcnow())

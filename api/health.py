"""Is the service able to do its job: the database answers, and the daily scan ran."""

import logging

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.database import db

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, url_prefix="/api", description="Service health.")


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "`ok` or `degraded`"})
    database = ma.fields.String(metadata={"description": "`ok` or `error`"})
    last_scan_at = ma.fields.AwareDateTime(allow_none=True)


def database_reachable() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        db.session.rollback()
        return False
    return True


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health():
    """Answers 200 while the process runs; `status` says whether it is doing its job."""
    database_ok = database_reachable()
    return {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "error",
        "last_scan_at": None,
    }

"""GET /api/health: is the service able to do its job (`inventory.alerts.health`)."""

import marshmallow as ma
from flask_smorest import Blueprint

from core.clock import utcnow
from inventory.alerts.health import service_health

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


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def health():
    """Answers 200 while the process runs; `status` says whether it is doing its job."""
    return service_health(utcnow())

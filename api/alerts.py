"""The alert inbox (list, acknowledge) and a scan on demand."""

import marshmallow as ma
from flask_smorest import Blueprint

from api.auth import current_api_user, roles_required
from api.inventory_fields import QuantityField
from api.pagination import PAGINATION, AsOfSchema, paginate
from core.accounts import Role
from core.clock import clinic_today, utcnow
from inventory import alerts
from inventory.alerts import AlertKind, AlertStatus
from ops.jobs import scan_in_request

blp = Blueprint("alerts", __name__, url_prefix="/api", description="Alert inbox and scans.")

INBOX_READERS = (Role.ADMIN, Role.PHARMACIST)


class AlertSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.Enum(AlertKind, by_value=True)
    product_id = ma.fields.Integer()
    lot_id = ma.fields.Integer(allow_none=True)
    threshold_days = ma.fields.Integer(
        allow_none=True, metadata={"description": "The expiry threshold reached (expiring)."}
    )
    status = ma.fields.Enum(AlertStatus, by_value=True)
    message = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    as_of = ma.fields.Date(metadata={"description": "The clinic day the condition was found."})
    acknowledged_by = ma.fields.String(attribute="acknowledged_by_username", allow_none=True)
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    lot_number = ma.fields.String(allow_none=True)
    effective_expiry = ma.fields.Date(allow_none=True)
    quantity = QuantityField(
        allow_none=True,
        metadata={"description": "On hand in the lot, or the product's usable stock (low stock)."},
    )
    week_start = ma.fields.Date(allow_none=True)
    scan_run_id = ma.fields.Integer(allow_none=True)


class AlertQuerySchema(ma.Schema):
    status = ma.fields.Enum(AlertStatus, by_value=True)
    kind = ma.fields.Enum(AlertKind, by_value=True)


class ScanSchema(ma.Schema):
    run_id = ma.fields.Integer()
    as_of = ma.fields.Date()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    created = ma.fields.List(ma.fields.Nested(AlertSchema))


@blp.route("/alerts", methods=["GET"])
@roles_required(*INBOX_READERS)
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertSchema(many=True))
@blp.paginate(**PAGINATION)
def list_alerts(filters, pagination_parameters):
    """Newest first; filter by `status` and `kind`."""
    return paginate(alerts.inbox(filters.get("status"), filters.get("kind")), pagination_parameters)


@blp.route("/alerts/<id:alert_id>/ack", methods=["POST"])
@roles_required(*INBOX_READERS)
@blp.response(200, AlertSchema)
def acknowledge_alert(alert_id):
    """Mark the alert seen; acknowledging again keeps the first acknowledgement."""
    return alerts.acknowledge(alert_id, current_api_user(), utcnow())


@blp.route("/alerts/scan", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(AsOfSchema, required=False)
@blp.response(200, ScanSchema)
def scan_now(fields):
    """Run the scan now (for `as_of`, default today in the clinic) and answer what it created;
    its digests are queued, and the outbox delivery sends them within minutes."""
    now = utcnow()
    run = scan_in_request(fields.get("as_of") or clinic_today(now), now=now)
    return {
        "run_id": run.id,
        "as_of": run.as_of,
        "counts": run.counts,
        "created": alerts.created_by(run.id),
    }

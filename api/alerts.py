"""The alert inbox (list, acknowledge) and a scan on demand."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, AsOfSchema, paginate_after
from api.schemas.alerts import (
    AcknowledgeManySchema,
    AlertDetailSchema,
    AlertQuerySchema,
    AlertSchema,
    ScanSchema,
)
from clinic.vigilance import alert_with_sessions
from core.accounts import PHARMACY_ROLES, Role
from core.clock import clinic_today, utcnow
from core.sites import require_site, sites_listed
from inventory import alerts
from ops.jobs import scan_in_request

blp = Blueprint("alerts", __name__, url_prefix="/api", description="Alert inbox and scans.")


@blp.route("/alerts", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertSchema(many=True))
@blp.paginate(**PAGINATION)
def list_alerts(filters, pagination_parameters):
    """Newest first; filter by `status`, `kind` and `site_id`."""
    site_ids = sites_listed(current_api_user(), filters.get("site_id"))
    stmt = alerts.inbox(filters.get("status"), filters.get("kind"), site_ids=site_ids)
    return paginate_after(stmt, pagination_parameters, after=filters.get("after"))


@blp.route("/alerts/<id:alert_id>", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, AlertDetailSchema)
def get_alert(alert_id):
    """One alert; an adverse signal with the sessions behind it (from which the lot may be
    quarantined or recalled: `POST /api/lots/{lot_id}/recall`). An alert of a site the user
    does not work at is a 403."""
    alert = alerts.get_alert(alert_id)
    if alert.site_id is not None:
        require_site(current_api_user(), alert.site_id)
    return alert_with_sessions(alert)


@blp.route("/alerts/<id:alert_id>/ack", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, AlertSchema)
def acknowledge_alert(alert_id):
    """Mark the alert seen; acknowledging again keeps the first acknowledgement. An alert of
    a site the user does not work at is a 403."""
    return alerts.acknowledge(alert_id, current_api_user(), now=utcnow())


@blp.route("/alerts/ack", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(AcknowledgeManySchema)
@blp.response(200, AlertSchema(many=True))
def acknowledge_alerts(fields):
    """Acknowledge several alerts at once (at most 500), in one transaction; answers the ones
    this call acknowledged (those already acknowledged keep their first acknowledgement)."""
    return alerts.acknowledge_many(fields["alert_ids"], current_api_user(), now=utcnow())


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

"""The audit log, read-only, for administrators."""

from datetime import date, datetime, time, timedelta

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import roles_required
from api.common import PAGINATION, paginate
from core.accounts import Role
from core.audit import AuditEntry
from core.clock import clinic_timezone

blp = Blueprint("audit", __name__, url_prefix="/api", description="Who changed what, and when.")


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    user_id = ma.fields.Integer(allow_none=True)
    username = ma.fields.String()
    action = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.String(allow_none=True)
    changes = ma.fields.Dict()


class AuditQuerySchema(ma.Schema):
    user = ma.fields.String(metadata={"description": "Username of the acting user."})
    user_id = ma.fields.Integer()
    entity = ma.fields.String(metadata={"description": "Table name, e.g. `users`, `lots`."})
    entity_id = ma.fields.String()
    date_from = ma.fields.Date(
        data_key="from", metadata={"description": "First day (clinic time)."}
    )
    date_to = ma.fields.Date(data_key="to", metadata={"description": "Last day (clinic time)."})


@blp.route("/audit", methods=["GET"])
@roles_required(Role.ADMIN)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
@blp.paginate(**PAGINATION)
def list_audit(filters, pagination_parameters):
    """Newest first."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if "user" in filters:
        stmt = stmt.where(AuditEntry.username == filters["user"])
    if "user_id" in filters:
        stmt = stmt.where(AuditEntry.user_id == filters["user_id"])
    if "entity" in filters:
        stmt = stmt.where(AuditEntry.entity == filters["entity"])
    if "entity_id" in filters:
        stmt = stmt.where(AuditEntry.entity_id == filters["entity_id"])
    if "date_from" in filters:
        stmt = stmt.where(AuditEntry.at >= _start_of(filters["date_from"]))
    if "date_to" in filters:
        stmt = stmt.where(AuditEntry.at < _start_of(filters["date_to"], days_after=1))
    return paginate(stmt, pagination_parameters)


def _start_of(day: date, days_after: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=days_after), time.min, tzinfo=clinic_timezone())

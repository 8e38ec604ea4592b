"""The audit log, read-only, for administrators."""

import marshmallow as ma
from flask_smorest import Blueprint

from api.auth import roles_required
from api.pagination import PAGINATION, id_field, paginate
from core.accounts import Role
from core.audit import audit_entries

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
    user_id = id_field()
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
    stmt = audit_entries(
        username=filters.get("user"),
        user_id=filters.get("user_id"),
        entity=filters.get("entity"),
        entity_id=filters.get("entity_id"),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    return paginate(stmt, pagination_parameters)

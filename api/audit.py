"""The audit log, read-only, for administrators."""

from api.auth import roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate_after
from api.schemas.audit import AuditEntrySchema, AuditQuerySchema
from core.accounts import Role
from core.audit import AuditEntry, audit_entries
from core.errors import Invalid

blp = Blueprint("audit", __name__, url_prefix="/api", description="Who changed what, and when.")


@blp.route("/audit", methods=["GET"])
@roles_required(Role.ADMIN)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
@blp.paginate(**PAGINATION)
def list_audit(filters, pagination_parameters):
    """Newest first. A period whose end comes before its start is a 422 naming `to`."""
    try:
        stmt = audit_entries(
            username=filters.get("user"),
            user_id=filters.get("user_id"),
            entity=filters.get("entity"),
            entity_id=filters.get("entity_id"),
            date_from=filters.get("date_from"),
            date_to=filters.get("date_to"),
        )
    except Invalid as error:
        # The query names the period's end `to`.
        raise Invalid({"to": error.errors["date_to"]}, error.message) from None
    # The log grows with every write: its pages are read as rows of its columns (all that
    # AuditEntrySchema reads), not as objects.
    columns = tuple(AuditEntry.__table__.columns)
    return paginate_after(stmt, pagination_parameters, after=filters.get("after"), columns=columns)

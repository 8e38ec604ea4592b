"""Vigilance: side effects per serum, lot and month over a window."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.vigilance import VigilanceQuerySchema, VigilanceRowSchema
from clinic import vigilance
from core.accounts import ALL_ROLES
from core.clock import clinic_today
from core.sites import sites_listed

blp = Blueprint(
    "vigilance", __name__, url_prefix="/api", description="Side effects per serum and lot."
)


@blp.route("/vigilance", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(VigilanceQuerySchema, location="query")
@blp.response(200, VigilanceRowSchema(many=True))
@blp.paginate(**PAGINATION)
def side_effects(query, pagination_parameters):
    """One row per serum, lot and month with a side effect between `from` and `to` (by the
    day each session was performed): the lot's completed sessions that month and their side
    effects in all, per severity and per kind. By serum, lot number and month. The sessions
    of `site_id` (403 outside the user's sites), else of every site the user works at."""
    first, last = vigilance.window_asked(
        query.get("first"), query.get("last"), today=clinic_today()
    )
    site_ids = sites_listed(current_api_user(), query.get("site_id"))
    stmt = vigilance.side_effects_by_lot(first, last, site_ids=site_ids)
    return paginate(stmt, pagination_parameters, columns=tuple(stmt.selected_columns))

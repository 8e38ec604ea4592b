"""The demand forecast: planned sessions against usable serum stock, week by week."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate_list
from api.schemas.forecast import ForecastQuerySchema, ForecastSchema
from clinic.forecast import forecast
from core.accounts import PHARMACY_ROLES
from core.clock import clinic_today
from core.sites import sites_listed

blp = Blueprint("forecast", __name__, url_prefix="/api", description="Demand forecast.")


@blp.route("/forecast", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(ForecastQuerySchema, location="query")
@blp.response(200, ForecastSchema(many=True))
@blp.paginate(**PAGINATION)
def get_forecast(query, pagination_parameters):
    """One row per serum stocked or planned; `shortfall_week` is the first week short. The
    planned sessions and stock of `site_id` (403 outside the user's sites), else of every
    site the user works at."""
    as_of = query.get("as_of") or clinic_today()
    site_ids = sites_listed(current_api_user(), query.get("site_id"))
    found = forecast(query["weeks"], as_of, site_ids=site_ids)
    return paginate_list(found, pagination_parameters)

"""The demand forecast: planned sessions against usable serum stock, week by week."""

import marshmallow as ma
from flask_smorest import Blueprint

from api.auth import roles_required
from api.inventory_fields import QuantityField
from api.pagination import PAGINATION, AsOfSchema, paginate_list
from clinic.forecast import forecast
from core.accounts import Role
from core.clock import clinic_today
from inventory.forecast import MAX_WEEKS

blp = Blueprint("forecast", __name__, url_prefix="/api", description="Demand forecast.")


class ForecastQuerySchema(AsOfSchema):
    weeks = ma.fields.Integer(
        load_default=4,
        validate=ma.validate.Range(min=1, max=MAX_WEEKS),
        metadata={"description": "Weeks ahead; week 1 starts on `as_of`."},
    )


class WeekSchema(ma.Schema):
    week_start = ma.fields.Date()
    needed = QuantityField(metadata={"description": "Doses the week's planned sessions need."})
    usable = QuantityField(
        metadata={"description": "Doses the week's sessions can have from usable stock."}
    )


class ForecastSchema(ma.Schema):
    product_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "None when no product stocks the serum."}
    )
    serum_id = ma.fields.Integer()
    product_ids = ma.fields.List(ma.fields.Integer())
    unit = ma.fields.Constant("dose")
    weeks = ma.fields.List(ma.fields.Nested(WeekSchema))
    shortfall_week = ma.fields.Date(allow_none=True)


@blp.route("/forecast", methods=["GET"])
@roles_required(Role.PHARMACIST, Role.ADMIN)
@blp.arguments(ForecastQuerySchema, location="query")
@blp.response(200, ForecastSchema(many=True))
@blp.paginate(**PAGINATION)
def get_forecast(query, pagination_parameters):
    """One row per serum stocked or planned; `shortfall_week` is the first week short."""
    as_of = query.get("as_of") or clinic_today()
    return paginate_list(forecast(query["weeks"], as_of), pagination_parameters)

"""Schemas of forecast (`api.forecast`)."""

import marshmallow as ma

from api.pagination import AsOfSchema, id_field
from api.schemas.fields import Integer, QuantityField
from api.schemas.lean import LeanSchema
from inventory.forecast import MAX_WEEKS


class ForecastQuerySchema(AsOfSchema):
    weeks = Integer(
        load_default=4,
        validate=ma.validate.Range(min=1, max=MAX_WEEKS),
        metadata={"description": "Weeks ahead; week 1 starts on `as_of`."},
    )
    site_id = id_field(
        metadata={"description": "One site's planned sessions and stock (403 outside the "
                  "user's sites); default: every site the user works at."}
    )  # fmt: skip


class WeekSchema(LeanSchema):
    week_start = ma.fields.Date()
    needed = QuantityField(
        dump_only=True, metadata={"description": "Doses the week's planned sessions need."}
    )
    usable = QuantityField(
        dump_only=True,
        metadata={"description": "Doses the week's sessions can have from usable stock."},
    )


class ForecastSchema(LeanSchema):
    product_id = Integer(
        allow_none=True, metadata={"description": "None when no product stocks the serum."}
    )
    serum_id = Integer()
    product_ids = ma.fields.List(Integer())
    unit = ma.fields.Constant("dose")
    weeks = ma.fields.List(ma.fields.Nested(WeekSchema))
    shortfall_week = ma.fields.Date(allow_none=True)
    on_order = QuantityField(
        dump_only=True,
        metadata={"description": "Doses submitted purchase orders still bring; each counts "
                  "as usable from the day its order is due (today, for a late one)."},
    )  # fmt: skip

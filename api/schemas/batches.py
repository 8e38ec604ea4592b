"""Schemas of batches (`api.batches`)."""

import marshmallow as ma

from api.schemas.fields import QuantityField
from api.schemas.lots import LotSchema
from inventory.models import Storage


class BatchCreateSchema(ma.Schema):
    serum_id = ma.fields.Integer(required=True)
    doses = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))
    storage = ma.fields.Enum(
        Storage,
        by_value=True,
        load_default=Storage.ROOM,
        metadata={"description": "Sets the beyond-use days (room 1, refrigerated 4 by default)."},
    )
    product_id = ma.fields.Integer(
        metadata={"description": "The serum product to stock; needed only when several exist."}
    )
    lot_number = ma.fields.String(
        validate=ma.validate.Length(min=1, max=60),
        metadata={"description": "Default: <serum code>-<YYYYMMDD>-<n>."},
    )


class ConsumedSchema(ma.Schema):
    lot_id = ma.fields.Integer()
    lot_number = ma.fields.String()
    quantity = QuantityField()
    unit = ma.fields.String()


class BatchSchema(ma.Schema):
    id = ma.fields.Integer()
    serum_id = ma.fields.Integer()
    doses = QuantityField()
    storage = ma.fields.Enum(Storage, by_value=True)
    prepared_at = ma.fields.AwareDateTime()
    beyond_use_date = ma.fields.Date()
    made_by_id = ma.fields.Integer(allow_none=True)
    lot = ma.fields.Nested(LotSchema)
    consumed = ma.fields.List(ma.fields.Nested(ConsumedSchema), attribute="consumptions")

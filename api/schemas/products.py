"""Schemas of products (`api.products`)."""

import marshmallow as ma

from api.pagination import AsOfSchema, id_field
from api.schemas.fields import REASON, Integer, Number, QuantityField
from api.schemas.lean import LeanSchema
from api.schemas.substances import FlatErrorsSchema
from inventory.models import PRODUCT_NAME_LENGTH, STRENGTH_UNIT_LENGTH, ProductKind, Storage


class StrengthSchema(LeanSchema):
    value = Number(
        required=True,
        places=6,
        validate=ma.validate.Range(min=0, min_inclusive=False, max=10**12, max_inclusive=False),
    )
    unit = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=STRENGTH_UNIT_LENGTH),
        metadata={"description": "An amount unit (mg, ug, g, mL, IU) per the product's unit: "
                  "mg/mL, IU/mL, mg/vial."},
    )  # fmt: skip


STRENGTH = {
    "description": "For kind `component`: how much of its substance one unit of the product "
    'holds, e.g. `{"value": 250, "unit": "mg/mL"}`. Compounding measures a formula\'s '
    "amount out through it."
}


class ProductSchema(LeanSchema, FlatErrorsSchema):
    id = Integer(dump_only=True)
    kind = ma.fields.Enum(ProductKind, by_value=True, required=True)
    name = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=PRODUCT_NAME_LENGTH)
    )
    unit = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "Stock unit: vial, ampoule, dose, mL, mg, piece..."},
    )
    substance_id = Integer(
        allow_none=True, load_default=None, metadata={"description": "For kind `component`."}
    )
    serum_id = Integer(
        allow_none=True, load_default=None, metadata={"description": "For kind `serum`."}
    )
    gtin = ma.fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "GTIN-8, -12, -13 or -14; answered as 14 digits."},
    )
    reorder_point = QuantityField(load_default=0, validate=ma.validate.Range(min=0))
    days_after_opening = Integer(
        allow_none=True,
        validate=ma.validate.Range(min=1),
        metadata={"description": "Days a vial keeps once opened; 28 by default for serums "
                  "and components, none for consumables."},
    )  # fmt: skip
    storage = ma.fields.Enum(
        Storage,
        by_value=True,
        load_default=Storage.ROOM,
        metadata={"description": "Where its lots are usually kept; a lot received without a "
                  "storage is put there."},
    )  # fmt: skip
    strength = ma.fields.Nested(
        StrengthSchema, allow_none=True, load_default=None, metadata=STRENGTH
    )
    unit_cost = QuantityField(
        dump_only=True,
        allow_none=True,
        metadata={"description": "What one unit cost at its last receipt (its order line's "
                  "price, or the `unit_cost` given to `POST /api/lots`)."},
    )  # fmt: skip


class ProductUpdateSchema(FlatErrorsSchema):
    kind = ma.fields.Enum(ProductKind, by_value=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=PRODUCT_NAME_LENGTH))
    unit = ma.fields.String(validate=ma.validate.Length(min=1, max=20))
    substance_id = Integer(allow_none=True)
    serum_id = Integer(allow_none=True)
    gtin = ma.fields.String(allow_none=True)
    reorder_point = QuantityField(validate=ma.validate.Range(min=0))
    days_after_opening = Integer(allow_none=True, validate=ma.validate.Range(min=1))
    storage = ma.fields.Enum(Storage, by_value=True)
    strength = ma.fields.Nested(StrengthSchema, allow_none=True, metadata=STRENGTH)


class ProductQuerySchema(AsOfSchema):
    name = ma.fields.String(
        validate=ma.validate.Length(max=PRODUCT_NAME_LENGTH),
        metadata={"description": "Found anywhere in the name, whatever its case."},
    )
    kind = ma.fields.Enum(ProductKind, by_value=True)
    gtin = ma.fields.String()
    low_stock = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Only products below their reorder point in stock usable "
                  "on `as_of`."},
    )  # fmt: skip


class DispenseSchema(ma.Schema):
    quantity = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))
    reason = ma.fields.String(allow_none=True, load_default=None, validate=REASON)
    site_id = id_field(
        metadata={"description": "The site whose lots are dispensed. Default: the user's only "
                  "site (422 naming `site_id` when they work at several); another is a 403."}
    )  # fmt: skip


class PickSchema(ma.Schema):
    lot_id = Integer()
    lot_number = ma.fields.String()
    quantity = QuantityField(dump_only=True)


class DispenseResultSchema(ma.Schema):
    picks = ma.fields.List(ma.fields.Nested(PickSchema))


class SiteReorderPointSchema(LeanSchema):
    site_id = Integer()
    site_code = ma.fields.String()
    site_name = ma.fields.String()
    reorder_point = QuantityField(
        dump_only=True,
        metadata={"description": "What low stock is measured against at the site: its own, "
                  "or the product's."},
    )  # fmt: skip
    own = ma.fields.Boolean(
        metadata={"description": "False: the site has none of its own and uses the product's."}
    )


class SiteReorderPointUpdateSchema(ma.Schema):
    reorder_point = QuantityField(required=True, validate=ma.validate.Range(min=0))

"""Schemas of suppliers, reorder suggestions and purchase orders (`api.suppliers`,
`api.purchase_orders`)."""

import marshmallow as ma

from api.pagination import AsOfSchema, id_field, id_list
from api.schemas.fields import Integer, QuantityField
from api.schemas.lean import LeanSchema
from api.schemas.substances import FlatErrorsSchema
from inventory.purchase_orders import MAX_LINES, OrderStatus
from inventory.suppliers import (
    MAX_LEAD_TIME_DAYS,
    SUPPLIER_EMAIL_LENGTH,
    SUPPLIER_NAME_LENGTH,
    SUPPLIER_PHONE_LENGTH,
)

NAME = ma.validate.Length(min=1, max=SUPPLIER_NAME_LENGTH)
PHONE = ma.validate.Length(max=SUPPLIER_PHONE_LENGTH)
LEAD_TIME = ma.validate.Range(min=0, max=MAX_LEAD_TIME_DAYS)
LEAD_TIME_DOC = {
    "description": "Days from an order to its delivery: the suggestions look this far ahead "
    "(plus the safety margin), and a submitted order not received by then is late."
}
EMAIL_DOC = {"description": "Where a submitted order is e-mailed (none: print it)."}
PRICE_DOC = {"description": "The price of one unit of the product (a pack is pack_size units)."}
SITE_ID_DOC = {
    "description": "Default: the user's only site (422 naming `site_id` when they work at "
    "several); one they do not work at is a 403."
}


class SupplierSchema(LeanSchema, FlatErrorsSchema):
    id = Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=NAME)
    email = ma.fields.Email(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Length(max=SUPPLIER_EMAIL_LENGTH),
        metadata=EMAIL_DOC,
    )
    phone = ma.fields.String(allow_none=True, load_default=None, validate=PHONE)
    lead_time_days = Integer(load_default=7, validate=LEAD_TIME, metadata=LEAD_TIME_DOC)


class SupplierUpdateSchema(FlatErrorsSchema):
    name = ma.fields.String(validate=NAME)
    email = ma.fields.Email(
        allow_none=True, validate=ma.validate.Length(max=SUPPLIER_EMAIL_LENGTH), metadata=EMAIL_DOC
    )
    phone = ma.fields.String(allow_none=True, validate=PHONE)
    lead_time_days = Integer(validate=LEAD_TIME, metadata=LEAD_TIME_DOC)


class SupplierProductSchema(LeanSchema, FlatErrorsSchema):
    supplier_id = Integer(dump_only=True)
    product_id = id_field(required=True)
    pack_size = QuantityField(
        load_default=1,
        validate=ma.validate.Range(min=0, min_inclusive=False),
        metadata={"description": "Units of the product in one pack: orders are whole packs."},
    )
    unit_price = QuantityField(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=0), metadata=PRICE_DOC
    )
    gtin = ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Length(max=14),
        metadata={"description": "The supplier's GTIN of the pack; answered as 14 digits."},
    )


class SuggestionQuerySchema(AsOfSchema):
    site_id = id_field(
        metadata={"description": "One site's suggestions (403 outside the user's sites); "
                  "default: every site the user works at."}
    )  # fmt: skip


class SuggestionSchema(LeanSchema):
    product_id = Integer()
    product_name = ma.fields.String()
    unit = ma.fields.String()
    site_id = Integer()
    supplier_id = Integer(metadata={"description": "The cheapest supplier of the product."})
    supplier_name = ma.fields.String()
    quantity = QuantityField(dump_only=True, metadata={"description": "Whole packs."})
    packs = Integer()
    pack_size = QuantityField(dump_only=True)
    unit_price = QuantityField(dump_only=True, allow_none=True)
    usable = QuantityField(dump_only=True)
    on_order = QuantityField(
        dump_only=True,
        metadata={"description": "Ordered (drafts included) and not yet received."},
    )
    needed = QuantityField(
        dump_only=True,
        metadata={"description": "What planned sessions need over the lead time and margin."},
    )
    sessions = Integer()
    reorder_point = QuantityField(dump_only=True)
    horizon_days = Integer()
    reason = ma.fields.String()


class OrderLineSchema(LeanSchema):
    id = Integer(dump_only=True)
    product_id = Integer()
    product_name = ma.fields.Function(lambda line: line.product.name)
    quantity = QuantityField(dump_only=True)
    received_quantity = QuantityField(dump_only=True)
    unit_price = QuantityField(dump_only=True, allow_none=True)
    pack_size = QuantityField(dump_only=True)


class PurchaseOrderSchema(LeanSchema):
    id = Integer()
    number = ma.fields.String(metadata={"description": "PO-000012"})
    supplier_id = Integer()
    site_id = Integer()
    status = ma.fields.Enum(OrderStatus, by_value=True)
    created_at = ma.fields.DateTime()
    submitted_at = ma.fields.DateTime(allow_none=True)
    expected_on = ma.fields.Date(
        allow_none=True,
        metadata={"description": "The day of submission plus the supplier's lead time."},
    )
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema))


class NewLineSchema(ma.Schema):
    product_id = id_field(required=True)
    quantity = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))


class PurchaseOrderCreateSchema(FlatErrorsSchema):
    supplier_id = id_field(required=True)
    site_id = id_field(metadata=SITE_ID_DOC)
    lines = ma.fields.List(
        ma.fields.Nested(NewLineSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_LINES),
    )


class FromSuggestionsSchema(FlatErrorsSchema):
    site_id = id_field(metadata=SITE_ID_DOC)
    # Only these products' suggestions (default: all of them).
    product_ids = id_list()
    as_of = ma.fields.Date(metadata={"description": "The day the suggestions are for."})


class PurchaseOrderQuerySchema(ma.Schema):
    status = ma.fields.Enum(OrderStatus, by_value=True)
    site_id = id_field(
        metadata={"description": "One site's orders (403 outside the user's sites); default: "
                  "every site the user works at."}
    )  # fmt: skip

"""Schemas of transfers between sites (`api.transfers`)."""

import marshmallow as ma

from api.pagination import id_field
from api.schemas.fields import REASON, Integer, QuantityField
from api.schemas.lean import LeanSchema
from inventory.models import TransferStatus
from inventory.transfers import TRANSFER_MOST_LOTS

POSITIVE = ma.validate.Range(min=0, min_inclusive=False)


class TransferLineSchema(LeanSchema):
    id = Integer()
    lot_id = Integer(metadata={"description": "The lot sent, at the source."})
    lot_number = ma.fields.String(attribute="lot.lot_number")
    product_id = Integer(attribute="lot.product_id")
    product = ma.fields.String(attribute="lot.product.name")
    quantity = QuantityField(dump_only=True, metadata={"description": "What was sent."})
    received_quantity = QuantityField(
        dump_only=True, allow_none=True, metadata={"description": "What arrived; null before."}
    )
    reason = ma.fields.String(
        attribute="short_reason",
        allow_none=True,
        metadata={"description": "Why less arrived than was sent."},
    )
    received_lot_id = Integer(
        allow_none=True, metadata={"description": "The lot it arrived as, at the destination."}
    )


class TransferSchema(LeanSchema):
    id = Integer()
    from_site_id = Integer()
    to_site_id = Integer()
    status = ma.fields.Enum(TransferStatus, by_value=True)
    lines = ma.fields.List(ma.fields.Nested(TransferLineSchema))
    created_at = ma.fields.AwareDateTime()
    created_by = ma.fields.String(attribute="created_by.username", allow_none=True)
    shipped_at = ma.fields.AwareDateTime(allow_none=True)
    shipped_by = ma.fields.String(attribute="shipped_by.username", allow_none=True)
    received_at = ma.fields.AwareDateTime(allow_none=True)
    received_by = ma.fields.String(attribute="received_by.username", allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)


class TransferLineInputSchema(ma.Schema):
    lot_id = id_field(required=True, metadata={"description": "A usable lot of the source."})
    quantity = QuantityField(required=True, validate=POSITIVE)


class TransferCreateSchema(ma.Schema):
    from_site_id = id_field(
        metadata={"description": "Default: the user's only site (a 422 naming `from_site_id` "
                  "when they work at several); a site they do not work at is a 403."}
    )  # fmt: skip
    to_site_id = id_field(required=True)
    lines = ma.fields.List(
        ma.fields.Nested(TransferLineInputSchema),
        load_default=list,
        validate=ma.validate.Length(max=TRANSFER_MOST_LOTS),
        metadata={"description": "Each lot once; more may be added to the draft later."},
    )


class LineReceiptSchema(ma.Schema):
    lot_id = id_field(required=True, metadata={"description": "A lot on the transfer."})
    received_quantity = QuantityField(
        required=True,
        validate=ma.validate.Range(min=0),
        metadata={"description": "At most what was sent."},
    )
    reason = ma.fields.String(
        allow_none=True, validate=REASON, metadata={"description": "Required when short."}
    )


class TransferReceiveSchema(ma.Schema):
    lines = ma.fields.List(
        ma.fields.Nested(LineReceiptSchema),
        load_default=list,
        validate=ma.validate.Length(max=TRANSFER_MOST_LOTS),
        metadata={"description": "Lines that did not arrive whole; the rest arrive as sent."},
    )


class TransferCancelSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=REASON)


class TransferQuerySchema(ma.Schema):
    site_id = id_field(
        metadata={"description": "Transfers from or to one site (403 if the user does not "
                  "work there); default: from or to every site the user works at."}
    )  # fmt: skip
    status = ma.fields.Enum(TransferStatus, by_value=True)

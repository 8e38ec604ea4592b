"""Schemas of batches (`api.batches`)."""

import marshmallow as ma

from api.pagination import id_field
from api.schemas.fields import REASON_REQUIRED, Integer, QuantityField
from api.schemas.lots import LotSchema
from inventory.models import Storage


class BatchCreateSchema(ma.Schema):
    serum_id = Integer(required=True)
    doses = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))
    storage = ma.fields.Enum(
        Storage,
        by_value=True,
        load_default=Storage.ROOM,
        metadata={"description": "Sets the beyond-use days (room 1, refrigerated 4 by default)."},
    )
    product_id = Integer(
        metadata={"description": "The serum product to stock; needed only when several exist."}
    )
    site_id = id_field(
        metadata={"description": "Where it is made, from that site's components, into a lot on "
                  "its shelf. Default: the user's only site (422 naming `site_id` with several)."}
    )  # fmt: skip
    lot_number = ma.fields.String(
        validate=ma.validate.Length(min=1, max=60),
        metadata={
            "description": "Default: <serum code>-<YYMMDD>-<n>, at most 20 characters "
            "(a GS1 lot number): a long code is cut to fit."
        },
    )


class ConsumedSchema(ma.Schema):
    lot_id = Integer()
    lot_number = ma.fields.String()
    quantity = QuantityField(dump_only=True)
    unit = ma.fields.String()


class BatchSchema(ma.Schema):
    """The compounding record. The batch's lot starts in `quarantine`; a second pharmacist
    verifies it (`verified_by`, `verified_at`; the lot is `available`) or rejects it
    (`rejected_by`, `rejected_at`, `rejection_reason`; the lot is `disposed`)."""

    id = Integer()
    serum_id = Integer()
    serum_code = ma.fields.String(attribute="serum.code")
    serum_version = Integer(
        attribute="serum.version", metadata={"description": "The formula version compounded."}
    )
    doses = QuantityField(dump_only=True)
    storage = ma.fields.Enum(Storage, by_value=True)
    prepared_at = ma.fields.AwareDateTime()
    prepared_by = ma.fields.String(
        allow_none=True, metadata={"description": "Username of the pharmacist who prepared it."}
    )
    beyond_use_date = ma.fields.Date()
    made_by_id = Integer(allow_none=True)
    verified_by = ma.fields.String(
        attribute="verified_by_name",
        allow_none=True,
        metadata={"description": "Username of the second pharmacist who verified it."},
    )
    verified_at = ma.fields.AwareDateTime(allow_none=True)
    rejected_by = ma.fields.String(attribute="rejected_by_name", allow_none=True)
    rejected_at = ma.fields.AwareDateTime(allow_none=True)
    rejection_reason = ma.fields.String(allow_none=True)
    lot = ma.fields.Nested(LotSchema)
    consumed = ma.fields.List(ma.fields.Nested(ConsumedSchema), attribute="consumptions")


class RejectSchema(ma.Schema):
    reason = ma.fields.String(
        required=True,
        validate=REASON_REQUIRED,
        metadata={"description": "What the check found wrong; the lot is disposed of with it."},
    )

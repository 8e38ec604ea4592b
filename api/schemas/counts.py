"""Schemas of stock counts (`api.counts`)."""

import marshmallow as ma

from api.pagination import id_field, id_list
from api.schemas.fields import Integer, QuantityField
from inventory.counts import CountStatus
from inventory.models import QUANTITY_MAX, Storage


class CountCreateSchema(ma.Schema):
    """The sheet lists the site's lots that hold stock and are not disposed of: of the
    products named (`product_ids`), of the storage named (both: lots of both), or every one
    of them."""

    site_id = id_field(
        metadata={"description": "The site whose shelves are counted. Default: the user's only "
                  "site (a 422 naming `site_id` when they work at several); a site they do "
                  "not work at is a 403."}
    )  # fmt: skip
    product_ids = id_list(min_items=1)
    storage = ma.fields.Enum(
        Storage, by_value=True, metadata={"description": "Count the lots kept there only."}
    )


class CountEntrySchema(ma.Schema):
    """One lot, by `lot_id` or by the GS1 `barcode` of its box, and what the shelf holds of it
    (an entry again replaces the earlier one)."""

    lot_id = id_field()
    barcode = ma.fields.String(
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "GS1 element string or Digital Link of the box, as receiving "
                  "a lot reads it (its GTIN and lot number find the lot at the count's site)."},
    )  # fmt: skip
    counted = QuantityField(
        required=True,
        validate=ma.validate.Range(min=0, max=QUANTITY_MAX),
        metadata={"description": "What is on the shelf, in the product's unit (0: none)."},
    )

    @ma.validates_schema
    def lot_or_barcode(self, data, **kwargs):
        if ("lot_id" in data) == ("barcode" in data):
            message = "Give the lot_id or the barcode of the box (one of them)."
            raise ma.ValidationError({"lot_id": [message], "barcode": [message]})


class CountLineSchema(ma.Schema):
    lot_id = Integer()
    lot_number = ma.fields.String()
    product_id = Integer()
    product_name = ma.fields.String()
    unit = ma.fields.String()
    counted = QuantityField(
        dump_only=True,
        allow_none=True,
        metadata={"description": "What was counted; null while not entered (0 once submitted)."},
    )
    expected = QuantityField(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The lot's quantity on hand at submission; null while the "
                  "count is open (a blind count)."},
    )  # fmt: skip
    variance = QuantityField(
        dump_only=True,
        allow_none=True,
        metadata={"description": "counted - expected; null while the count is open."},
    )
    entered = ma.fields.Boolean(
        metadata={"description": "Whether someone entered it; a line never entered is a lot "
                  "not found on the shelf, counted 0 at submission."}
    )  # fmt: skip
    added = ma.fields.Boolean(
        metadata={"description": "Found on the shelf, not listed on the sheet when it was made."}
    )


class CountSummarySchema(ma.Schema):
    id = Integer()
    reference = ma.fields.String(metadata={"description": "COUNT-00012: in the ledger's reasons."})
    site_id = Integer()
    status = ma.fields.Enum(CountStatus, by_value=True)
    storage = ma.fields.Enum(Storage, by_value=True, allow_none=True)
    needs_second_approval = ma.fields.Boolean(
        metadata={"description": "A variance beyond COUNT_APPROVAL_QUANTITY (or _VALUE): a "
                  "pharmacist other than the submitter approves it. Decided at submission."}
    )  # fmt: skip
    created_by = ma.fields.String(attribute="created_by_name", allow_none=True)
    created_at = ma.fields.AwareDateTime()
    submitted_by = ma.fields.String(attribute="submitted_by_name", allow_none=True)
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    approved_by = ma.fields.String(attribute="approved_by_name", allow_none=True)
    approved_at = ma.fields.AwareDateTime(allow_none=True)
    cancelled_by = ma.fields.String(attribute="cancelled_by_name", allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)


class CountSchema(CountSummarySchema):
    lines = ma.fields.List(ma.fields.Nested(CountLineSchema))


class CountQuerySchema(ma.Schema):
    site_id = id_field(
        metadata={"description": "One site's counts (403 if the user does not work there); "
                  "default: the counts of every site the user works at."}
    )  # fmt: skip
    status = ma.fields.Enum(CountStatus, by_value=True)

"""Schemas of lots (`api.lots`)."""

import marshmallow as ma
from sqlalchemy import Row

from api.pagination import AfterSchema, AsOfSchema, id_field
from api.schemas.fields import (
    REASON,
    REASON_REQUIRED,
    ClinicDateTime,
    ExpiryField,
    Integer,
    JSONBoolean,
    QuantityField,
)
from api.schemas.lean import LeanSchema
from inventory.barcodes import lot_element_string
from inventory.lots import LotSort, LotState
from inventory.models import (
    LOT_NUMBER_LENGTH,
    SUPPLIER_LENGTH,
    Lot,
    LotStatus,
    MovementKind,
    Product,
    Storage,
)

_BY_FIELDS = ("product_id", "lot_number", "expiry_date")
# What LotSchema reads of a lot: its columns and its product's GTIN. A page of the lot list is
# read as rows of these (api.pagination's `columns`), not as Lot and Product objects.
LOT_ROW = (*Lot.__table__.columns, Product.gtin.label("product_gtin"))


def _element_string(lot) -> str | None:
    gtin = lot.product_gtin if isinstance(lot, Row) else lot.product.gtin
    return lot_element_string(lot, gtin=gtin)


SITE_ID_DOC = {
    "description": "The site whose stock it is. Default: the user's only site (a 422 naming "
    "`site_id` when they work at several); a site they do not work at is a 403."
}


class LotSchema(LeanSchema):
    id = Integer()
    site_id = Integer()
    product_id = Integer()
    lot_number = ma.fields.String()
    expiry_date = ma.fields.Date()
    expiry_month_only = ma.fields.Boolean()
    effective_expiry = ma.fields.Date(
        metadata={"description": "Last day of use: the expiry date, or earlier once opened."}
    )
    quantity_on_hand = QuantityField(dump_only=True)
    status = ma.fields.Enum(LotStatus, by_value=True)
    status_reason = ma.fields.String(allow_none=True)
    opened_at = ma.fields.AwareDateTime(allow_none=True)
    received_at = ma.fields.AwareDateTime()
    supplier = ma.fields.String(allow_none=True)
    storage = ma.fields.Enum(Storage, by_value=True)
    unit_cost = QuantityField(
        dump_only=True, allow_none=True, metadata={"description": "What one unit cost."}
    )
    gs1_element_string = ma.fields.Function(
        _element_string,
        allow_none=True,
        metadata={"type": "string",
                  "description": "What the lot's label symbol (GS1 DataMatrix) carries: (01) "
                  "the product's GTIN when it has one, (17) the expiry, (10) the lot number, as "
                  "a scanner types it. `POST /api/lots {barcode, quantity}` takes it (it needs "
                  "the GTIN). Null when the lot number has no GS1 form (at most 20 characters, "
                  "letters, digits and !\"%&'()*+,-./:;<=>?_)."},
    )  # fmt: skip


class LotReceiveSchema(ma.Schema):
    """Either the fields (`product_id, lot_number, expiry_date`) or a GS1 `barcode`; with a
    barcode, a field given as well fills in what the barcode leaves out (an expiry) and must
    agree with what it says. The quantity is always its own field."""

    barcode = ma.fields.String(
        metadata={"pattern": r"\S",
                  "description": "GS1 element string (AIs 01, 10, 17), raw, `]d2`-prefixed, "
                  "with GS separators, or human-readable `(01)...(17)...(10)...`; or a GS1 "
                  "Digital Link URI (`https://id.gs1.org/01/.../10/...?17=...`, any domain)."}
    )  # fmt: skip
    product_id = id_field()
    lot_number = ma.fields.String(validate=ma.validate.Length(min=1, max=LOT_NUMBER_LENGTH))
    expiry_date = ExpiryField()
    quantity = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))
    supplier = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=SUPPLIER_LENGTH))
    storage = ma.fields.Enum(Storage, by_value=True)
    received_at = ClinicDateTime()
    quarantine = JSONBoolean(load_default=False)
    site_id = id_field(metadata=SITE_ID_DOC)
    purchase_order_line_id = id_field(
        metadata={"description": "The purchase order line this receipt delivers: its received "
                  "quantity grows (409 past the ordered quantity plus the tolerance); the lot "
                  "costs the line's price unless `unit_cost` says otherwise."}
    )  # fmt: skip
    unit_cost = QuantityField(
        allow_none=True,
        validate=ma.validate.Range(min=0),
        metadata={"description": "What one unit cost; the product's cost becomes it."},
    )

    @ma.validates_schema
    def barcode_or_fields(self, data, **kwargs):
        if "barcode" in data:
            return
        missing = [field for field in _BY_FIELDS if field not in data]
        if missing:
            raise ma.ValidationError(
                {field: ["Required (or give a barcode)."] for field in missing}
            )


class LotQuerySchema(AsOfSchema, AfterSchema):
    lot_number = ma.fields.String(
        validate=ma.validate.Length(max=LOT_NUMBER_LENGTH),
        metadata={"description": "Found anywhere in the lot number, whatever its case."},
    )
    product_id = id_field()
    site_id = id_field(
        metadata={"description": "One site's lots (403 if the user does not work there); "
                  "default: the lots of every site the user works at."}
    )  # fmt: skip
    status = ma.fields.Enum(LotStatus, by_value=True)
    state = ma.fields.Enum(
        LotState,
        by_value=True,
        metadata={"description": "As the lot list sorts lots: `available` holds stock, "
                  "`empty` is released with nothing left."},
    )  # fmt: skip
    storage = ma.fields.Enum(Storage, by_value=True)
    expires_from = ma.fields.Date(metadata={"description": "Last day of use on or after."})
    expires_to = ma.fields.Date(metadata={"description": "Last day of use on or before."})
    expiring_within_days = Integer(
        validate=ma.validate.Range(min=0, max=36500),
        metadata={"description": "Not yet expired on `as_of`, and last usable within N days."},
    )
    sort = ma.fields.Enum(LotSort, by_value=True, load_default=LotSort.EXPIRY)
    descending = ma.fields.Boolean(load_default=False)


class OpenSchema(ma.Schema):
    opened_at = ClinicDateTime(metadata={"description": "Default now; may be back-dated."})


class AdjustSchema(ma.Schema):
    quantity = QuantityField(
        required=True, metadata={"description": "Signed correction, not 0.", "not": {"enum": [0]}}
    )
    reason = ma.fields.String(required=True, validate=REASON_REQUIRED)


class DisposeSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=REASON_REQUIRED)
    quantity = QuantityField(
        validate=ma.validate.Range(min=0, min_inclusive=False),
        metadata={"description": "Default: everything on hand."},
    )


class RecallSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=REASON_REQUIRED)


class QuarantineSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=REASON_REQUIRED)


class MovementSchema(LeanSchema):
    id = Integer()
    lot_id = Integer()
    kind = ma.fields.Enum(MovementKind, by_value=True)
    quantity = QuantityField(
        dump_only=True, metadata={"description": "Signed: receipts add, the rest take."}
    )
    reason = ma.fields.String(allow_none=True, validate=REASON)
    user = ma.fields.String(attribute="username", allow_none=True)
    created_at = ma.fields.AwareDateTime()


class TracedSessionSchema(LeanSchema):
    session_id = Integer()
    patient_id = Integer()
    mrn = ma.fields.String()
    patient_name = ma.fields.String()
    date = ma.fields.Date(metadata={"description": "The day the session was performed."})
    lot_id = Integer(metadata={"description": "The lot, or batch lot, it used."})


class TraceSchema(ma.Schema):
    lot_id = Integer()
    batches = ma.fields.List(
        ma.fields.Nested(LotSchema),
        metadata={
            "description": "Lots of the batches made from it (or from a copy of it), at any depth."
        },
    )
    copies = ma.fields.List(
        ma.fields.Nested(LotSchema),
        metadata={
            "description": "The same stock at other sites, sent by transfers (and the copies"
            " of its batches)."
        },
    )
    sessions = ma.fields.List(ma.fields.Nested(TracedSessionSchema))

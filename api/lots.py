"""Lots: receipt (fields or GS1 barcode), lists with expiry filters, transitions, the
ledger of one lot and its recall trace."""

from datetime import timedelta

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from api.auth import ALL_ROLES, current_api_user, roles_required
from api.inventory_fields import ClinicDateTime, ExpiryField, QuantityField
from api.pagination import PAGINATION, AsOfSchema, id_field, paginate
from clinic.sessions import sessions_using_lots
from core.accounts import Role
from core.clock import clinic_today, utcnow
from inventory import lots
from inventory.models import Lot, LotStatus, Movement, MovementKind, Storage
from inventory.trace import trace_recall

blp = Blueprint("lots", __name__, url_prefix="/api", description="Stock lots and their ledger.")

LEDGER_READERS = (Role.PHARMACIST, Role.ADMIN)
_BY_FIELDS = ("product_id", "lot_number", "expiry_date")


class LotSchema(ma.Schema):
    id = ma.fields.Integer()
    product_id = ma.fields.Integer()
    lot_number = ma.fields.String()
    expiry_date = ma.fields.Date()
    expiry_month_only = ma.fields.Boolean()
    effective_expiry = ma.fields.Date(
        metadata={"description": "Last day of use: the expiry date, or earlier once opened."}
    )
    quantity_on_hand = QuantityField()
    status = ma.fields.Enum(LotStatus, by_value=True)
    status_reason = ma.fields.String(allow_none=True)
    opened_at = ma.fields.AwareDateTime(allow_none=True)
    received_at = ma.fields.AwareDateTime()
    supplier = ma.fields.String(allow_none=True)
    storage = ma.fields.Enum(Storage, by_value=True)


class LotReceiveSchema(ma.Schema):
    """Either the fields (`product_id, lot_number, expiry_date`) or a GS1 `barcode`; the
    quantity is always its own field."""

    barcode = ma.fields.String(
        metadata={"description": "GS1 element string (AIs 01, 10, 17), raw, `]d2`-prefixed, "
                  "with GS separators, or human-readable `(01)...(17)...(10)...`."}
    )  # fmt: skip
    product_id = ma.fields.Integer()
    lot_number = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    expiry_date = ExpiryField()
    quantity = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))
    supplier = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=160))
    storage = ma.fields.Enum(Storage, by_value=True)
    received_at = ClinicDateTime()
    quarantine = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def either_barcode_or_fields(self, data, **kwargs):
        given = [field for field in _BY_FIELDS if field in data]
        if "barcode" in data and given:
            raise ma.ValidationError(
                {field: ["Give either a barcode or this field, not both."] for field in given}
            )
        if "barcode" not in data:
            missing = [field for field in _BY_FIELDS if field not in data]
            if missing:
                raise ma.ValidationError(
                    {field: ["Required (or give a barcode)."] for field in missing}
                )


class LotQuerySchema(AsOfSchema):
    product_id = id_field()
    status = ma.fields.Enum(LotStatus, by_value=True)
    expiring_within_days = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=36500),
        metadata={"description": "Not yet expired on `as_of`, and last usable within N days."},
    )


class OpenSchema(ma.Schema):
    opened_at = ClinicDateTime(metadata={"description": "Default now; may be back-dated."})


class AdjustSchema(ma.Schema):
    quantity = QuantityField(required=True, metadata={"description": "Signed correction."})
    reason = ma.fields.String(required=True)


class DisposeSchema(ma.Schema):
    reason = ma.fields.String(required=True)
    quantity = QuantityField(
        validate=ma.validate.Range(min=0, min_inclusive=False),
        metadata={"description": "Default: everything on hand."},
    )


class RecallSchema(ma.Schema):
    reason = ma.fields.String(required=True)


class MovementSchema(ma.Schema):
    id = ma.fields.Integer()
    lot_id = ma.fields.Integer()
    kind = ma.fields.Enum(MovementKind, by_value=True)
    quantity = QuantityField(metadata={"description": "Signed: receipts add, the rest take."})
    reason = ma.fields.String(allow_none=True)
    user = ma.fields.String(attribute="username", allow_none=True)
    created_at = ma.fields.AwareDateTime()


class TracedSessionSchema(ma.Schema):
    session_id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    mrn = ma.fields.String()
    patient_name = ma.fields.String()
    date = ma.fields.Date(metadata={"description": "The day the session was performed."})
    lot_id = ma.fields.Integer(metadata={"description": "The lot, or batch lot, it used."})


class TraceSchema(ma.Schema):
    lot_id = ma.fields.Integer()
    batches = ma.fields.List(
        ma.fields.Nested(LotSchema),
        metadata={"description": "Lots of the batches made from it, at any depth."},
    )
    sessions = ma.fields.List(ma.fields.Nested(TracedSessionSchema))


@blp.route("/lots", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(LotQuerySchema, location="query")
@blp.response(200, LotSchema(many=True))
@blp.paginate(**PAGINATION)
def list_lots(filters, pagination_parameters):
    """Earliest effective expiry first."""
    stmt = select(Lot).order_by(Lot.effective_expiry, Lot.id)
    if "product_id" in filters:
        stmt = stmt.where(Lot.product_id == filters["product_id"])
    if "status" in filters:
        stmt = stmt.where(Lot.status == filters["status"])
    if "expiring_within_days" in filters:
        as_of = filters.get("as_of") or clinic_today()
        last_day = as_of + timedelta(days=filters["expiring_within_days"])
        stmt = stmt.where(Lot.effective_expiry >= as_of, Lot.effective_expiry <= last_day)
    return paginate(stmt, pagination_parameters)


@blp.route("/lots", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(LotReceiveSchema)
@blp.response(201, LotSchema)
@blp.alt_response(200, schema=LotSchema, description="More of a lot already on the shelf.")
def receive_lot(fields):
    """Receive a new lot (201) or more of an existing one (200, a `receive` movement)."""
    user_id, now = current_api_user().id, utcnow()
    quantity = fields.pop("quantity")
    if "barcode" in fields:
        receipt = lots.receive_barcode(fields.pop("barcode"), quantity, user_id, now, **fields)
    else:
        receipt = lots.receive(
            fields.pop("product_id"),
            fields.pop("lot_number"),
            fields.pop("expiry_date"),
            quantity,
            user_id,
            now,
            **fields,
        )
    return receipt.lot, 201 if receipt.created else 200


@blp.route("/lots/<id:lot_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, LotSchema)
def get_lot(lot_id):
    return lots.get_lot(lot_id)


@blp.route("/lots/<id:lot_id>/release", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, LotSchema)
def release_lot(lot_id):
    """A quarantined lot becomes available."""
    return lots.release(lot_id)


@blp.route("/lots/<id:lot_id>/open", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(OpenSchema)
@blp.response(200, LotSchema)
def open_lot(fields, lot_id):
    """Record the first opening; later ones change nothing."""
    return lots.open_lot(lot_id, utcnow(), fields.get("opened_at"))


@blp.route("/lots/<id:lot_id>/adjust", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(AdjustSchema)
@blp.response(200, LotSchema)
def adjust_lot(fields, lot_id):
    return lots.adjust(
        lot_id, fields["quantity"], fields["reason"], current_api_user().id, utcnow()
    )


@blp.route("/lots/<id:lot_id>/dispose", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(DisposeSchema)
@blp.response(200, LotSchema)
def dispose_lot(fields, lot_id):
    return lots.dispose(
        lot_id, fields["reason"], current_api_user().id, utcnow(), fields.get("quantity")
    )


@blp.route("/lots/<id:lot_id>/recall", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(RecallSchema)
@blp.response(200, LotSchema)
def recall_lot(fields, lot_id):
    return lots.recall(lot_id, fields["reason"], utcnow())


@blp.route("/lots/<id:lot_id>/movements", methods=["GET"])
@roles_required(*LEDGER_READERS)
@blp.response(200, MovementSchema(many=True))
@blp.paginate(**PAGINATION)
def list_movements(lot_id, pagination_parameters):
    """The lot's ledger, oldest first."""
    lots.get_lot(lot_id)
    stmt = (
        select(Movement)
        .where(Movement.lot_id == lot_id)
        .options(joinedload(Movement.user))
        .order_by(Movement.id)
    )
    return paginate(stmt, pagination_parameters)


@blp.route("/lots/<id:lot_id>/trace", methods=["GET"])
@roles_required(*LEDGER_READERS)
@blp.response(200, TraceSchema)
def trace_lot(lot_id):
    """Whom to call when this lot is recalled: every batch made from it and every session that
    used it or such a batch, with the patient's MRN."""
    trace = trace_recall(lot_id)
    return {
        "lot_id": trace.lot_id,
        "batches": trace.batches,
        "sessions": sessions_using_lots(trace.lot_ids),
    }

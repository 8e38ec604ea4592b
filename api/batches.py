"""In-house compounding: a batch of an approved compounded serum (pharmacists)."""

import marshmallow as ma
from flask_smorest import Blueprint

from api.auth import current_api_user, roles_required
from api.inventory_fields import QuantityField
from api.lots import LotSchema
from core.accounts import Role
from core.clock import utcnow
from core.database import db
from core.errors import Invalid
from formulary.models import Serum
from inventory.compounding import compound
from inventory.models import Storage

blp = Blueprint("batches", __name__, url_prefix="/api", description="In-house compounding.")


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


@blp.route("/batches", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(BatchCreateSchema)
@blp.response(201, BatchSchema)
def compound_batch(fields):
    """All of it or nothing: a short component is a 409 that names it."""
    serum = db.session.get(Serum, fields["serum_id"])
    if serum is None:
        raise Invalid({"serum_id": [f"No serum with id {fields['serum_id']}."]})
    return compound(
        serum,
        fields["doses"],
        current_api_user(),
        utcnow(),
        storage=fields["storage"],
        product_id=fields.get("product_id"),
        lot_number=fields.get("lot_number"),
    )

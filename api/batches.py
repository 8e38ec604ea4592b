"""In-house compounding: a batch of an approved compounded serum (pharmacists)."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.schemas.batches import BatchCreateSchema, BatchSchema
from core.accounts import Role
from core.clock import utcnow
from core.database import db
from core.errors import Invalid
from formulary.models import Serum
from inventory.compounding import compound

blp = Blueprint("batches", __name__, url_prefix="/api", description="In-house compounding.")


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

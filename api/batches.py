"""In-house compounding: a batch of an approved compounded serum (pharmacists)."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.schemas.batches import BatchCreateSchema, BatchSchema
from core.accounts import Role
from core.clock import utcnow
from formulary.serums import get_serum
from inventory.compounding import compound

blp = Blueprint("batches", __name__, url_prefix="/api", description="In-house compounding.")


@blp.route("/batches", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(BatchCreateSchema)
@blp.response(201, BatchSchema)
def compound_batch(fields):
    """All of it or nothing: a short component is a 409 that names it."""
    serum = get_serum(fields["serum_id"], field="serum_id")
    return compound(
        serum,
        fields["doses"],
        user=current_api_user(),
        now=utcnow(),
        storage=fields["storage"],
        product_id=fields.get("product_id"),
        lot_number=fields.get("lot_number"),
    )

"""In-house compounding: a batch of an approved compounded serum, its compounding record and
its second check (pharmacists)."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.schemas.batches import BatchCreateSchema, BatchSchema, RejectSchema
from core.accounts import PHARMACY_ROLES, Role
from core.clock import utcnow
from core.sites import site_for_new_record
from formulary.serums import get_serum
from inventory.compounding import compound, get_batch, reject_batch, verify_batch

blp = Blueprint(
    "batches",
    __name__,
    url_prefix="/api",
    description="In-house compounding and the second pharmacist's check of each batch.",
)


@blp.route("/batches", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(BatchCreateSchema)
@blp.response(201, BatchSchema)
def compound_batch(fields):
    """All of it or nothing: a short component is a 409 that names it.

    The batch's lot starts in `quarantine`: a second pharmacist verifies or rejects it."""
    serum = get_serum(fields["serum_id"], field="serum_id")
    batch = compound(
        serum,
        fields["doses"],
        user=current_api_user(),
        now=utcnow(),
        storage=fields["storage"],
        product_id=fields.get("product_id"),
        lot_number=fields.get("lot_number"),
        site_id=site_for_new_record(current_api_user(), fields.get("site_id")).id,
    )
    return get_batch(batch.id)


@blp.route("/batches/<id:batch_id>", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, BatchSchema)
def read_batch(batch_id):
    """The compounding record: formula version, every ingredient lot and quantity, who
    prepared it when, beyond-use date, storage, and its check."""
    return get_batch(batch_id)


@blp.route("/batches/<id:batch_id>/verify", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, BatchSchema)
def verify(batch_id):
    """The second check passed: the lot leaves quarantine (`available`) and the batch records
    `verified_by` and `verified_at`. By the pharmacist who prepared it, a 409; the same as
    `POST /api/lots/{id}/release` of its lot."""
    return verify_batch(batch_id, pharmacist=current_api_user(), now=utcnow())


@blp.route("/batches/<id:batch_id>/reject", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(RejectSchema)
@blp.response(200, BatchSchema)
def reject(fields, batch_id):
    """The second check found it wrong: the whole lot is disposed of with the reason, and the
    batch records `rejected_by`, `rejected_at` and `rejection_reason`. By the pharmacist who
    prepared it, a 409 (they dispose of the lot with `POST /api/lots/{id}/dispose`)."""
    return reject_batch(
        batch_id, pharmacist=current_api_user(), reason=fields["reason"], now=utcnow()
    )

"""Transfers of stock between the chain's sites: drafted and shipped at the source, received at
the destination (`inventory.transfers` holds every rule)."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.transfers import (
    TransferCancelSchema,
    TransferCreateSchema,
    TransferLineInputSchema,
    TransferQuerySchema,
    TransferReceiveSchema,
    TransferSchema,
)
from core.accounts import PHARMACY_ROLES, Role
from core.clock import utcnow
from core.sites import sites_listed
from inventory import transfers

blp = Blueprint(
    "transfers", __name__, url_prefix="/api", description="Stock sent between the sites."
)


@blp.route("/transfers", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(TransferQuerySchema, location="query")
@blp.response(200, TransferSchema(many=True))
@blp.paginate(**PAGINATION)
def list_transfers(filters, pagination_parameters):
    """Newest first: from or to the user's sites, or one site's."""
    site_ids = sites_listed(current_api_user(), filters.get("site_id"))
    listed = transfers.transfer_list(site_ids=site_ids, status=filters.get("status"))
    return paginate(listed, pagination_parameters)


@blp.route("/transfers", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(TransferCreateSchema)
@blp.response(201, TransferSchema)
def create_transfer(fields):
    """A draft: nothing moves until it is shipped.

    Only usable lots of the source travel, each at most what it holds (a 422 naming the
    line's field)."""
    return transfers.create_transfer(
        user=current_api_user(),
        from_site_id=fields.get("from_site_id"),
        to_site_id=fields["to_site_id"],
        lines=fields["lines"],
        now=utcnow(),
    )


@blp.route("/transfers/<id:transfer_id>", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, TransferSchema)
def show_transfer(transfer_id):
    """403 for someone who works at neither site."""
    return transfers.transfer_for(current_api_user(), transfer_id)


@blp.route("/transfers/<id:transfer_id>/lines", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(TransferLineInputSchema)
@blp.response(200, TransferSchema)
def add_transfer_line(fields, transfer_id):
    """One more lot on a draft (the same lot again adds to its line)."""
    transfer = _at_source(transfer_id)
    transfers.add_line(transfer, lot_id=fields["lot_id"], quantity=fields["quantity"], now=utcnow())
    return transfer


@blp.route("/transfers/<id:transfer_id>/lines/<id:line_id>", methods=["DELETE"])
@roles_required(Role.PHARMACIST)
@blp.response(200, TransferSchema)
def remove_transfer_line(transfer_id, line_id):
    transfer = _at_source(transfer_id)
    transfers.remove_line(transfer, line_id)
    return transfer


@blp.route("/transfers/<id:transfer_id>/ship", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.response(200, TransferSchema)
def ship_transfer(transfer_id):
    """The stock leaves the source (a `transfer_out` movement per line).

    A 409, and nothing shipped, when a lot no longer holds its quantity or is no longer usable.
    """
    return transfers.ship_transfer(transfer_id, user=current_api_user(), now=utcnow())


@blp.route("/transfers/<id:transfer_id>/receive", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(TransferReceiveSchema)
@blp.response(200, TransferSchema)
def receive_transfer(fields, transfer_id):
    """The stock arrives at the destination (a `transfer_in` movement per line).

    By default everything shipped; `lines` says what arrived short, each with its reason. A
    refrigerated lot longer in transit than the clinic allows arrives in quarantine."""
    return transfers.receive_transfer(
        transfer_id, user=current_api_user(), now=utcnow(), receipts=fields["lines"]
    )


@blp.route("/transfers/<id:transfer_id>/cancel", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(TransferCancelSchema)
@blp.response(200, TransferSchema)
def cancel_transfer(fields, transfer_id):
    """A draft only (a shipped transfer is received, with 0 for what never arrived)."""
    return transfers.cancel_transfer(
        transfer_id, user=current_api_user(), reason=fields.get("reason"), now=utcnow()
    )


def _at_source(transfer_id: int):
    return transfers.draft_at_source(current_api_user(), transfer_id)

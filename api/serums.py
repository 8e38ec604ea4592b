"""Serum formulas over HTTP (SPEC 3.2): versions, drafts, four-eyes approval, retirement."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.serums import SerumCreateSchema, SerumQuerySchema, SerumSchema, SerumUpdateSchema
from core.accounts import ALL_ROLES, PHARMACY_ROLES
from formulary import serums

blp = Blueprint(
    "serums",
    __name__,
    url_prefix="/api",
    description="Serum formulas: versions, drafts, approval by a second person.",
)


@blp.route("/serums", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(SerumQuerySchema, location="query")
@blp.response(200, SerumSchema(many=True))
@blp.paginate(**PAGINATION)
def list_serums(query, pagination_parameters):
    """Serum versions by code and version; `code` lists one serum's whole history."""
    stmt = serums.serum_query(code=query.get("code"), status=query.get("status"))
    return paginate(stmt, pagination_parameters)


@blp.route("/serums", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SerumCreateSchema)
@blp.response(201, SerumSchema)
def add_serum(fields):
    """A new serum: version 1, a draft written by the caller."""
    return serums.create_serum(author=current_api_user(), **fields)


@blp.route("/serums/<id:serum_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SerumSchema)
def get_serum(serum_id):
    return serums.get_serum(serum_id)


@blp.route("/serums/<id:serum_id>", methods=["PATCH"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SerumUpdateSchema)
@blp.response(200, SerumSchema)
def update_serum(changes, serum_id):
    """Edit a draft (409 for an approved or retired version); `components` replaces them.
    Whoever edits another person's draft cannot approve it."""
    return serums.update_draft(serums.get_serum(serum_id), changes, editor=current_api_user())


@blp.route("/serums/<id:serum_id>/approve", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, SerumSchema)
def approve_serum(serum_id):
    """Approve a draft: not by its author nor by anyone who edited it (409); refused (422)
    with no components or a component above its maximum concentration. Retires the
    previously approved version."""
    return serums.approve(serums.get_serum(serum_id), current_api_user())


@blp.route("/serums/<id:serum_id>/retire", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, SerumSchema)
def retire_serum(serum_id):
    return serums.retire(serums.get_serum(serum_id))


@blp.route("/serums/<id:serum_id>/versions", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.response(201, SerumSchema)
def new_serum_version(serum_id):
    """The next version of this serum, a draft copy written by the caller."""
    return serums.new_version(serums.get_serum(serum_id), current_api_user())

"""Cross-reactivity groups over HTTP (SPEC 3.1)."""

from api.auth import roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.cross_reactivity import (
    CrossReactivityGroupCreateSchema,
    CrossReactivityGroupSchema,
    CrossReactivityGroupUpdateSchema,
)
from core.accounts import ALL_ROLES, PHARMACY_ROLES
from formulary import cross_reactivity

blp = Blueprint(
    "cross_reactivity",
    __name__,
    url_prefix="/api",
    description="Groups of substances a patient allergic to one may react to.",
)


@blp.route("/cross-reactivity", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, CrossReactivityGroupSchema(many=True))
@blp.paginate(**PAGINATION)
def list_groups(pagination_parameters):
    return paginate(cross_reactivity.group_query(), pagination_parameters)


@blp.route("/cross-reactivity", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(CrossReactivityGroupCreateSchema)
@blp.response(201, CrossReactivityGroupSchema)
def add_group(fields):
    return cross_reactivity.create_group(**fields)


@blp.route("/cross-reactivity/<id:group_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, CrossReactivityGroupSchema)
def get_group(group_id):
    return cross_reactivity.get_group(group_id)


@blp.route("/cross-reactivity/<id:group_id>", methods=["PATCH"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(CrossReactivityGroupUpdateSchema)
@blp.response(200, CrossReactivityGroupSchema)
def update_group(changes, group_id):
    return cross_reactivity.update_group(cross_reactivity.get_group(group_id), changes)


@blp.route("/cross-reactivity/<id:group_id>", methods=["DELETE"])
@roles_required(*PHARMACY_ROLES)
@blp.response(204)
def delete_group(group_id):
    cross_reactivity.delete_group(cross_reactivity.get_group(group_id))

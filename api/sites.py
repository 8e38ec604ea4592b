"""The clinic's sites (read: everyone; write: administrators)."""

from api.auth import roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.sites import SiteSchema, SiteUpdateSchema
from core.accounts import ALL_ROLES, Role
from core.sites import create_site, get_site, site_list, update_site

blp = Blueprint(
    "sites", __name__, url_prefix="/api", description="The clinic's sites, each with its stock."
)


@blp.route("/sites", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SiteSchema(many=True))
@blp.paginate(**PAGINATION)
def list_sites(pagination_parameters):
    """Every site of the clinic, by name."""
    return paginate(site_list(), pagination_parameters)


@blp.route("/sites", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(SiteSchema)
@blp.response(201, SiteSchema)
def add_site(fields):
    """A new site; its code is unique (409 when another site has it)."""
    return create_site(**fields)


@blp.route("/sites/<id:site_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SiteSchema)
def show_site(site_id):
    return get_site(site_id)


@blp.route("/sites/<id:site_id>", methods=["PATCH"])
@roles_required(Role.ADMIN)
@blp.arguments(SiteUpdateSchema)
@blp.response(200, SiteSchema)
def patch_site(changes, site_id):
    return update_site(get_site(site_id), changes)

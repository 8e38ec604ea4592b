"""Products (what the clinic stocks) and the FEFO dispense of a product."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.products import (
    DispenseResultSchema,
    DispenseSchema,
    ProductQuerySchema,
    ProductSchema,
    ProductUpdateSchema,
    SiteReorderPointSchema,
    SiteReorderPointUpdateSchema,
)
from core.accounts import ALL_ROLES, PHARMACY_ROLES, Role
from core.clock import clinic_today, utcnow
from core.sites import require_site, site_for_new_record, site_ids_of
from inventory import products
from inventory.fefo import dispense
from inventory.products import create_product, get_product, update_product
from inventory.stock import product_list

blp = Blueprint(
    "products", __name__, url_prefix="/api", description="Stocked products and FEFO dispense."
)


@blp.route("/products", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductSchema(many=True))
@blp.paginate(**PAGINATION)
def list_products(filters, pagination_parameters):
    stmt = product_list(
        as_of=filters.get("as_of") or clinic_today(),
        name=filters.get("name"),
        kind=filters.get("kind"),
        gtin=filters.get("gtin"),
        low_only=filters["low_stock"],
    )
    return paginate(stmt, pagination_parameters)


@blp.route("/products", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(ProductSchema)
@blp.response(201, ProductSchema)
def add_product(fields):
    return create_product(**fields)


@blp.route("/products/<id:product_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, ProductSchema)
def get_one_product(product_id):
    return get_product(product_id)


@blp.route("/products/<id:product_id>", methods=["PATCH"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(ProductUpdateSchema)
@blp.response(200, ProductSchema)
def patch_product(changes, product_id):
    return update_product(get_product(product_id), changes)


@blp.route("/products/<id:product_id>/dispense", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(DispenseSchema)
@blp.response(200, DispenseResultSchema)
def dispense_product(fields, product_id):
    """First-expiring, first-out from the site's lots usable today; all of it or nothing
    (409). The site: `site_id`, or the user's only site (422 naming `site_id` when they work at
    several); one they do not work at is a 403."""
    user = current_api_user()
    site = site_for_new_record(user, fields.get("site_id"))
    picks = dispense(
        product_id,
        fields["quantity"],
        reason=fields["reason"],
        user_id=user.id,
        now=utcnow(),
        site_id=site.id,
    )
    return {"picks": picks}


@blp.route("/products/<id:product_id>/reorder-points", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SiteReorderPointSchema(many=True))
@blp.paginate(**PAGINATION)
def list_site_reorder_points(product_id, pagination_parameters):
    """Each site the user works at, by name, with the product's reorder point there: the
    site's own, or the product's (`own` false)."""
    get_product(product_id)
    stmt = products.reorder_points_by_site(product_id, site_ids_of(current_api_user()))
    return paginate(stmt, pagination_parameters, columns=tuple(stmt.selected_columns))


@blp.route("/products/<id:product_id>/reorder-points/<id:site_id>", methods=["PUT"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SiteReorderPointUpdateSchema)
@blp.response(200, SiteReorderPointSchema)
def set_site_reorder_point(fields, product_id, site_id):
    """The product's reorder point at a site the user works at (another is a 403), in place
    of the product's own there."""
    product = get_product(product_id)
    require_site(current_api_user(), site_id)
    products.set_site_reorder_point(product, site_id, reorder_point=fields["reorder_point"])
    return products.reorder_point_of_site(product_id, site_id)


@blp.route("/products/<id:product_id>/reorder-points/<id:site_id>", methods=["DELETE"])
@roles_required(*PHARMACY_ROLES)
@blp.response(204)
def clear_site_reorder_point(product_id, site_id):
    """The site uses the product's reorder point again (also when it had none of its own)."""
    product = get_product(product_id)
    require_site(current_api_user(), site_id)
    products.set_site_reorder_point(product, site_id, reorder_point=None)

"""Products (what the clinic stocks) and the FEFO dispense of a product."""

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import ALL_ROLES, current_api_user, roles_required
from api.inventory_fields import QuantityField
from api.pagination import PAGINATION, paginate
from core.accounts import Role
from core.clock import utcnow
from inventory.fefo import dispense
from inventory.models import Product, ProductKind
from inventory.products import create_product, get_product, update_product

blp = Blueprint(
    "products", __name__, url_prefix="/api", description="Stocked products and FEFO dispense."
)

STOCK_WRITERS = (Role.PHARMACIST, Role.ADMIN)


class ProductSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.Enum(ProductKind, by_value=True, required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    unit = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "Stock unit: vial, ampoule, dose, mL, mg, piece..."},
    )
    substance_id = ma.fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "For kind `component`."}
    )
    serum_id = ma.fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "For kind `serum`."}
    )
    gtin = ma.fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "GTIN-8, -12, -13 or -14; answered as 14 digits."},
    )
    reorder_point = QuantityField(load_default=0, validate=ma.validate.Range(min=0))
    days_after_opening = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=1),
        metadata={"description": "Days a vial keeps once opened; 28 by default for serums "
                  "and components, none for consumables."},
    )  # fmt: skip


class ProductUpdateSchema(ma.Schema):
    kind = ma.fields.Enum(ProductKind, by_value=True)
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=160))
    unit = ma.fields.String(validate=ma.validate.Length(min=1, max=20))
    substance_id = ma.fields.Integer(allow_none=True)
    serum_id = ma.fields.Integer(allow_none=True)
    gtin = ma.fields.String(allow_none=True)
    reorder_point = QuantityField(validate=ma.validate.Range(min=0))
    days_after_opening = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1))


class ProductQuerySchema(ma.Schema):
    kind = ma.fields.Enum(ProductKind, by_value=True)
    gtin = ma.fields.String()


class DispenseSchema(ma.Schema):
    quantity = QuantityField(required=True, validate=ma.validate.Range(min=0, min_inclusive=False))
    reason = ma.fields.String(allow_none=True, load_default=None)


class PickSchema(ma.Schema):
    lot_id = ma.fields.Integer()
    lot_number = ma.fields.String()
    quantity = QuantityField()


class DispenseResultSchema(ma.Schema):
    picks = ma.fields.List(ma.fields.Nested(PickSchema))


@blp.route("/products", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductSchema(many=True))
@blp.paginate(**PAGINATION)
def list_products(filters, pagination_parameters):
    stmt = select(Product).order_by(Product.name, Product.id)
    if "kind" in filters:
        stmt = stmt.where(Product.kind == filters["kind"])
    if "gtin" in filters:
        stmt = stmt.where(Product.gtin == filters["gtin"])
    return paginate(stmt, pagination_parameters)


@blp.route("/products", methods=["POST"])
@roles_required(*STOCK_WRITERS)
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
@roles_required(*STOCK_WRITERS)
@blp.arguments(ProductUpdateSchema)
@blp.response(200, ProductSchema)
def patch_product(changes, product_id):
    return update_product(get_product(product_id), changes)


@blp.route("/products/<id:product_id>/dispense", methods=["POST"])
@roles_required(Role.PHARMACIST)
@blp.arguments(DispenseSchema)
@blp.response(200, DispenseResultSchema)
def dispense_product(fields, product_id):
    """First-expiring, first-out from the lots usable today; all of it or nothing (409)."""
    picks = dispense(
        product_id, fields["quantity"], fields["reason"], current_api_user().id, utcnow()
    )
    return {"picks": picks}

"""Suppliers and the products each supplies (read: everyone; write: pharmacists and
administrators, as products)."""

from api.auth import roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.purchasing import SupplierProductSchema, SupplierSchema, SupplierUpdateSchema
from core.accounts import ALL_ROLES, PHARMACY_ROLES
from inventory.suppliers import (
    create_supplier,
    get_supplier,
    supplier_list,
    supplier_products,
    supply_product,
    update_supplier,
)

blp = Blueprint(
    "suppliers", __name__, url_prefix="/api", description="Suppliers and what each supplies."
)


@blp.route("/suppliers", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SupplierSchema(many=True))
@blp.paginate(**PAGINATION)
def list_suppliers(pagination_parameters):
    """Every supplier, by name."""
    return paginate(supplier_list(), pagination_parameters)


@blp.route("/suppliers", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SupplierSchema)
@blp.response(201, SupplierSchema)
def add_supplier(fields):
    """A new supplier; its name is unique (409 when another supplier has it)."""
    return create_supplier(**fields)


@blp.route("/suppliers/<id:supplier_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SupplierSchema)
def show_supplier(supplier_id):
    return get_supplier(supplier_id)


@blp.route("/suppliers/<id:supplier_id>", methods=["PATCH"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SupplierUpdateSchema)
@blp.response(200, SupplierSchema)
def patch_supplier(changes, supplier_id):
    return update_supplier(get_supplier(supplier_id), changes)


@blp.route("/suppliers/<id:supplier_id>/products", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SupplierProductSchema(many=True))
@blp.paginate(**PAGINATION)
def list_supplier_products(supplier_id, pagination_parameters):
    """What the supplier supplies, by product name."""
    get_supplier(supplier_id)
    return paginate(supplier_products(supplier_id), pagination_parameters)


@blp.route("/suppliers/<id:supplier_id>/products", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SupplierProductSchema)
@blp.response(201, SupplierProductSchema)
@blp.alt_response(200, schema=SupplierProductSchema, description="A product it supplied already: "
                  "its pack, price and GTIN replaced.")  # fmt: skip
def add_supplier_product(fields, supplier_id):
    """The supplier sells the product: new (201), or its pack, price and GTIN replaced (200)."""
    offer, created = supply_product(
        get_supplier(supplier_id),
        fields.pop("product_id"),
        **fields,
    )
    return offer, 201 if created else 200

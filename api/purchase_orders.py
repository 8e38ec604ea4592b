"""Reorder suggestions and purchase orders: drafted by hand or from the suggestions, submitted
to the supplier (e-mailed through the outbox), received lot by lot (`POST /api/lots` with a
`purchase_order_line_id`), cancelled."""

from flask import current_app, render_template

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate, paginate_list
from api.schemas.purchasing import (
    FromSuggestionsSchema,
    PurchaseOrderCreateSchema,
    PurchaseOrderQuerySchema,
    PurchaseOrderSchema,
    SuggestionQuerySchema,
    SuggestionSchema,
)
from clinic.reorder import reorder_suggestions
from core.accounts import PHARMACY_ROLES
from core.clock import clinic_today, utcnow
from core.sites import require_site, site_for_new_record, sites_listed
from inventory import purchase_orders as orders

blp = Blueprint(
    "purchase_orders",
    __name__,
    url_prefix="/api",
    description="Reorder suggestions and purchase orders.",
)


@blp.route("/reorder-suggestions", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SuggestionQuerySchema, location="query")
@blp.response(200, SuggestionSchema(many=True))
@blp.paginate(**PAGINATION)
def list_suggestions(query, pagination_parameters):
    """Per product and site, what to order so that usable stock plus what is on order covers
    the reorder point and what planned sessions need over the cheapest supplier's lead time
    plus the safety margin (REORDER_SAFETY_DAYS), in whole packs; `reason` says it in words.
    Only products a supplier sells; by site, then product name."""
    as_of = query.get("as_of") or clinic_today()
    site_ids = sites_listed(current_api_user(), query.get("site_id"))
    return paginate_list(reorder_suggestions(as_of, site_ids=site_ids), pagination_parameters)


@blp.route("/purchase-orders", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(PurchaseOrderQuerySchema, location="query")
@blp.response(200, PurchaseOrderSchema(many=True))
@blp.paginate(**PAGINATION)
def list_orders(query, pagination_parameters):
    """Newest first; of `site_id` (403 outside the user's sites), else of every site the user
    works at."""
    site_ids = sites_listed(current_api_user(), query.get("site_id"))
    return paginate(
        orders.order_list(status=query.get("status"), site_ids=site_ids), pagination_parameters
    )


@blp.route("/purchase-orders", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(PurchaseOrderCreateSchema)
@blp.response(201, PurchaseOrderSchema)
def add_order(fields):
    """A draft order; each line at the supplier's price and pack for the product, when it
    lists it."""
    user = current_api_user()
    site = site_for_new_record(user, fields.get("site_id"))
    return orders.create_order(
        fields["supplier_id"], site.id, lines=fields["lines"], user_id=user.id, now=utcnow()
    )


@blp.route("/purchase-orders/from-suggestions", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(FromSuggestionsSchema)
@blp.response(201, PurchaseOrderSchema(many=True))
def add_orders_from_suggestions(fields):
    """The site's reorder suggestions (of `product_ids`, when given) as draft orders, one per
    supplier; 409 when nothing is to be ordered."""
    user = current_api_user()
    site = site_for_new_record(user, fields.get("site_id"))
    suggestions = reorder_suggestions(
        fields.get("as_of") or clinic_today(),
        site_ids=[site.id],
        product_ids=fields.get("product_ids") or None,
    )
    return orders.order_suggestions(suggestions, user_id=user.id, now=utcnow())


@blp.route("/purchase-orders/<id:order_id>", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, PurchaseOrderSchema)
def show_order(order_id):
    return _at_my_site(order_id)


@blp.route("/purchase-orders/<id:order_id>/submit", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, PurchaseOrderSchema)
def submit_order(order_id):
    """A draft goes to its supplier: expected by today plus the supplier's lead time, and
    e-mailed to the supplier through the outbox (when it has an address); 409 otherwise."""
    _at_my_site(order_id)
    return orders.submit(order_id, user_id=current_api_user().id, now=utcnow())


@blp.route("/purchase-orders/<id:order_id>/cancel", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.response(200, PurchaseOrderSchema)
def cancel_order(order_id):
    """A draft, or an order still waiting for goods: what came stays received; 409 for a
    received or cancelled one."""
    _at_my_site(order_id)
    return orders.cancel(order_id, now=utcnow())


@blp.route("/purchase-orders/<id:order_id>/print", methods=["GET"])
@roles_required(*PHARMACY_ROLES)
@blp.response(
    200,
    {"type": "string"},
    content_type="text/html",
    description="The order as an HTML page made to print (the page /stock/orders/{id}/print).",
)
def print_order(order_id):
    """The order to print or send: who orders, where to deliver, what and by when."""
    order = _at_my_site(order_id)
    return current_app.response_class(
        render_template("stock/order_print.html", order=order), mimetype="text/html"
    )


def _at_my_site(order_id: int):
    order = orders.get_order(order_id)
    require_site(current_api_user(), order.site_id)
    return order

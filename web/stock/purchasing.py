"""Purchasing pages: suppliers and what each supplies, the reorder suggestions turned into
draft orders in one step, purchase orders (submitted to the supplier, printed, cancelled) and
their receipt by barcode or typed fields against an order line."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from clinic.reorder import reorder_suggestions, safety_days
from core.accounts import PHARMACY_ROLES, Role
from core.clock import clinic_today, day_text, utcnow
from core.database import PAGE_SIZE, db
from core.errors import DomainError, Invalid
from inventory import lots
from inventory import purchase_orders as orders
from inventory import suppliers as supplier_rules
from inventory.barcodes import read_barcode
from inventory.models import Product
from inventory.purchase_orders import OrderStatus, PurchaseOrder
from web.pages import (
    confirmation_page,
    confirmed,
    page_of,
    quantity_text,
    role_page,
    show_domain_error,
)
from web.sites import refuse_outside_its_site, shown_site_ids, site_for_the_page
from web.stock.forms import OrderActionForm, OrderReceiveForm, SupplierForm, SupplierProductForm

bp = Blueprint("purchasing", __name__, url_prefix="/stock")

STATUS_LABELS = {
    OrderStatus.DRAFT: "Draft",
    OrderStatus.SUBMITTED: "Sent to the supplier",
    OrderStatus.PARTLY_RECEIVED: "Partly received",
    OrderStatus.RECEIVED: "Received",
    OrderStatus.CANCELLED: "Cancelled",
}
bp.add_app_template_filter(lambda status: STATUS_LABELS[OrderStatus(status)], "order_status")


@bp.before_request
def _only_the_orders_of_ones_sites():
    order_id = (request.view_args or {}).get("order_id")
    if order_id is not None:
        site_of = select(PurchaseOrder.site_id).where(PurchaseOrder.id == order_id)
        refuse_outside_its_site(db.session.scalar(site_of))


# --- suppliers ---------------------------------------------------------------------------------


@bp.route("/suppliers")
@role_page(*PHARMACY_ROLES)
def suppliers():
    return render_template("stock/suppliers.html", page=page_of(supplier_rules.supplier_list()))


@bp.route("/suppliers/new", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def new_supplier():
    form = SupplierForm() if request.method == "POST" else SupplierForm(formdata=None)
    if request.method == "GET":
        return render_template("stock/supplier_form.html", form=form, supplier=None)
    if not form.validate():
        return render_template("stock/supplier_form.html", form=form, supplier=None), 422
    try:
        supplier = supplier_rules.create_supplier(**_supplier_fields(form))
    except DomainError as error:
        status = show_domain_error(form, error)
        return render_template("stock/supplier_form.html", form=form, supplier=None), status
    flash(f"Supplier {supplier.name} added: now add the products it supplies.", "success")
    return redirect(url_for("purchasing.supplier_page", supplier_id=supplier.id))


def _supplier_fields(form: SupplierForm) -> dict:
    return {
        "name": form.name.data,
        "email": form.email.data or None,
        "phone": form.phone.data or None,
        "lead_time_days": form.lead_time_days.data,
    }


@bp.route("/suppliers/<id:supplier_id>", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def supplier_page(supplier_id):
    supplier = supplier_rules.get_supplier(supplier_id)
    if request.method == "GET":
        form = SupplierForm(
            formdata=None,
            name=supplier.name,
            email=supplier.email or "",
            phone=supplier.phone or "",
            lead_time_days=supplier.lead_time_days,
        )
        return _supplier_page(supplier, form=form)
    form = SupplierForm()
    if not form.validate():
        return _supplier_page(supplier, form=form, status=422)
    try:
        supplier_rules.update_supplier(supplier, _supplier_fields(form))
    except DomainError as error:
        return _supplier_page(supplier, form=form, status=show_domain_error(form, error))
    flash(f"Supplier {supplier.name} saved.", "success")
    return redirect(url_for("purchasing.supplier_page", supplier_id=supplier.id))


@bp.route("/suppliers/<id:supplier_id>/products", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def supply_product(supplier_id):
    supplier = supplier_rules.get_supplier(supplier_id)
    offer_form = _with_products(SupplierProductForm(prefix=SupplierProductForm.PREFIX))
    if not offer_form.validate():
        return _supplier_page(supplier, offer_form=offer_form, status=422)
    try:
        offer, created = supplier_rules.supply_product(
            supplier,
            offer_form.product_id.data,
            pack_size=offer_form.pack_size.data,
            unit_price=offer_form.unit_price.data,
            gtin=offer_form.gtin.data or None,
        )
    except DomainError as error:
        status = show_domain_error(offer_form, error)
        return _supplier_page(supplier, offer_form=offer_form, status=status)
    verb = "now supplies" if created else "supplies (pack and price changed)"
    flash(f"{supplier.name} {verb} {offer.product.name}.", "success")
    return redirect(url_for("purchasing.supplier_page", supplier_id=supplier.id))


def _with_products(form: SupplierProductForm) -> SupplierProductForm:
    products = db.session.execute(
        select(Product.id, Product.name, Product.unit).order_by(Product.name, Product.id)
    ).all()
    form.product_id.choices = [
        SelectChoice("", "Choose a product"),
        *(SelectChoice(str(pid), f"{name} ({unit})") for pid, name, unit in products),
    ]
    return form


def _supplier_page(supplier, *, form=None, offer_form=None, status: int = 200):
    if form is None:
        form = SupplierForm(
            formdata=None,
            name=supplier.name,
            email=supplier.email or "",
            phone=supplier.phone or "",
            lead_time_days=supplier.lead_time_days,
        )
    offer_form = offer_form or SupplierProductForm(formdata=None, prefix=SupplierProductForm.PREFIX)
    page = render_template(
        "stock/supplier_form.html",
        form=form,
        supplier=supplier,
        offer_form=_with_products(offer_form),
        offers=page_of(supplier_rules.supplier_products(supplier.id)),
    )
    return page, status


# --- reorder suggestions -----------------------------------------------------------------------


@bp.route("/reorder")
@role_page(*PHARMACY_ROLES)
def suggestions():
    today = clinic_today()
    found = reorder_suggestions(today, site_ids=shown_site_ids())
    return render_template(
        "stock/reorder.html",
        suggestions=found[:PAGE_SIZE],
        total=len(found),
        today=today,
        safety_days=safety_days(),
        form=OrderActionForm(formdata=None),
    )


@bp.route("/reorder/order", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def order_suggestions():
    """The chosen suggestions of the page's site as draft orders, one per supplier."""
    form = OrderActionForm()
    if not form.validate():
        abort(400)
    chosen = [int(value) for value in request.form.getlist("product_id") if value.isdigit()]
    try:
        site = site_for_the_page()
        found = reorder_suggestions(clinic_today(), site_ids=[site.id], product_ids=chosen)
        made = orders.order_suggestions(found, user_id=current_user.id, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("purchasing.suggestions")), 303
    numbers = ", ".join(order.number for order in made)
    flash(f"Drafted {numbers}: check and submit each to its supplier.", "success")
    if len(made) == 1:
        return redirect(url_for("purchasing.order_page", order_id=made[0].id))
    return redirect(url_for("purchasing.order_list", status=OrderStatus.DRAFT.value))


# --- purchase orders ---------------------------------------------------------------------------


@bp.route("/orders")
@role_page(*PHARMACY_ROLES)
def order_list():
    status = request.args.get("status", "")
    if status not in {s.value for s in OrderStatus}:
        status = ""
    stmt = orders.order_list(status=status or None, site_ids=shown_site_ids())
    return render_template(
        "stock/orders.html", page=page_of(stmt), status=status, statuses=STATUS_LABELS
    )


@bp.route("/orders/<id:order_id>")
@role_page(*PHARMACY_ROLES)
def order_page(order_id):
    return _order_page(orders.get_order(order_id))


@bp.route("/orders/<id:order_id>/print")
@role_page(*PHARMACY_ROLES)
def print_order(order_id):
    return render_template("stock/order_print.html", order=orders.get_order(order_id))


def _order_page(order: PurchaseOrder, receive_form=None, status: int = 200):
    receive_form = receive_form or OrderReceiveForm(formdata=None, prefix=OrderReceiveForm.PREFIX)
    open_lines = [line for line in order.lines if line.outstanding > 0] if order.open else []
    receive_form.line_id.choices = [
        SelectChoice("", "From the barcode"),
        *(
            SelectChoice(
                str(line.id),
                f"{line.product.name}: {quantity_text(line.outstanding)} {line.product.unit} "
                "to come",
            )
            for line in open_lines
        ),
    ]
    page = render_template(
        "stock/order.html",
        order=order,
        open_lines=open_lines,
        action_form=OrderActionForm(formdata=None),
        receive_form=receive_form,
        receives=current_user.role == Role.PHARMACIST and bool(open_lines),
        mailed=bool(order.supplier.email),
    )
    return page, status


@bp.route("/orders/<id:order_id>/submit", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def submit_order(order_id):
    if not OrderActionForm().validate():
        abort(400)
    try:
        order = orders.submit(order_id, user_id=current_user.id, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("purchasing.order_page", order_id=order_id)), 303
    sent = (
        f"e-mailed to {order.supplier.email}"
        if order.supplier.email
        else "print it and send it: the supplier has no e-mail address"
    )
    flash(
        f"{order.number} submitted to {order.supplier.name} ({sent}); expected by "
        f"{day_text(order.expected_on)}.",
        "success",
    )
    return redirect(url_for("purchasing.order_page", order_id=order.id))


@bp.route("/orders/<id:order_id>/cancel", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def cancel_order(order_id):
    order = orders.get_order(order_id)
    if not OrderActionForm().validate():
        abort(400)
    if not confirmed():
        return confirmation_page(
            title=f"Cancel {order.number}",
            question=f"Cancel {order.number} to {order.supplier.name}? What came stays received; "
            "the rest is no longer expected. This cannot be undone.",
            action="Cancel the order",
            cancel_url=url_for("purchasing.order_page", order_id=order.id),
        )
    try:
        orders.cancel(order_id, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("purchasing.order_page", order_id=order_id)), 303
    flash(f"{order.number} cancelled.", "success")
    return redirect(url_for("purchasing.order_page", order_id=order_id))


@bp.route("/orders/<id:order_id>/receive", methods=["POST"])
@role_page(Role.PHARMACIST)
def receive_on_order(order_id):
    """A lot received against one of the order's lines: by its barcode (which names the
    product, so the line when none is chosen) or by the lot number and expiry typed."""
    order = orders.get_order(order_id)
    form = OrderReceiveForm(prefix=OrderReceiveForm.PREFIX)
    _order_page(order, receive_form=form)  # fills in the line choices
    if not form.validate():
        return _order_page(order, receive_form=form, status=422)
    try:
        receipt = _receive(order, form)
    except DomainError as error:
        status = show_domain_error(form, error, {"purchase_order_line_id": "line_id"})
        return _order_page(orders.get_order(order_id), receive_form=form, status=status)
    lot = receipt.lot
    flash(
        f"Received {quantity_text(form.quantity.data)} {lot.product.unit} of {lot.product.name}, "
        f"lot {lot.lot_number}, against {order.number} "
        f"({order.status.value.replace('_', ' ')}).",
        "success",
    )
    return redirect(url_for("purchasing.order_page", order_id=order.id))


def _receive(order: PurchaseOrder, form: OrderReceiveForm) -> lots.Receipt:
    barcode = (form.barcode.data or "").strip()
    line_id = form.line_id.data
    if line_id is None:
        if not barcode:
            raise Invalid({"line_id": ["Choose the line, or scan the box."]})
        product = lots.product_for_barcode(read_barcode(barcode))
        line_id = next((line.id for line in order.lines if line.product_id == product.id), None)
        if line_id is None:
            raise Invalid({"barcode": [f"{order.number} orders no {product.name}."]})
    fields = {
        "quantity": form.quantity.data,
        "user_id": current_user.id,
        "now": utcnow(),
        "lot_number": form.lot_number.data or None,
        "expiry": lots.typed_expiry(form.expiry_date.data),
        "site_id": order.site_id,
        "purchase_order_line_id": line_id,
        "supplier": order.supplier.name,
    }
    if barcode:
        return lots.receive_scanned(barcode, **fields)
    missing = {
        name: ["Required (or scan the barcode)."]
        for name in ("lot_number", "expiry_date")
        if not getattr(form, name).data
    }
    if missing:
        raise Invalid(missing)
    line = next(line for line in order.lines if line.id == line_id)
    return lots.receive(product_id=line.product_id, **fields)

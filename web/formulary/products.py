"""The formulary's catalogue of products: what the clinic stocks, with its kind, stock unit,
GTIN, the substance or serum it is (a component with its strength), and where its lots are
usually stored; the forms that add and change products. How much of each is on the shelf is
the stock's list, linked from here."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from core.accounts import PHARMACY_ROLES
from core.database import db
from core.errors import DomainError
from core.sites import require_site, site_ids_of
from formulary import substances as catalogue
from formulary import units
from formulary.models import Serum, SerumStatus
from inventory import products as product_rules
from inventory.models import Product, ProductKind
from web.formulary.common import stock_products_url
from web.formulary.forms import ProductForm, SiteReorderPointForm
from web.pages import page_of, role_page, show_domain_error

bp = Blueprint("formulary_products", __name__, url_prefix="/formulary/products")

FIELDS = {"substance_id": "substance"}


@bp.route("")
@role_page(*PHARMACY_ROLES)
def products():
    q = request.args.get("q", "").strip()
    kind = request.args.get("kind", "")
    if kind not in {k.value for k in ProductKind}:
        kind = ""
    stmt = product_rules.product_query(kind=kind or None, q=q or None).options(
        selectinload(Product.substance), selectinload(Product.serum)
    )
    return render_template(
        "formulary/products.html",
        q=q,
        kind=kind,
        kinds=list(ProductKind),
        page=page_of(stmt),
        stock_url=stock_products_url(),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def new_product():
    form = _with_serums(ProductForm())
    if request.method == "GET":
        return _form_page(form, None)
    fields = _fields(form)
    if fields is None:
        return _form_page(form, None, status=422)
    if fields["days_after_opening"] is None:
        del fields["days_after_opening"]  # the kind's default
    try:
        product = product_rules.create_product(**fields)
    except DomainError as error:
        return _form_page(form, None, status=show_domain_error(form, error, FIELDS))
    flash(f"Product {product.name} added.", "success")
    return redirect(url_for("formulary_products.products", q=product.name))


@bp.route("/<id:product_id>/edit", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def edit_product(product_id):
    product = product_rules.get_product(product_id)
    if request.method == "GET":
        form = ProductForm(
            formdata=None,
            kind=product.kind.value,
            name=product.name,
            unit=product.unit,
            substance=product.substance.name if product.substance else "",
            serum_id=product.serum_id,
            gtin=product.gtin or "",
            reorder_point=product.reorder_point.normalize(),
            days_after_opening=product.days_after_opening,
            storage=product.storage.value,
            strength=product.strength_text,
        )
        return _form_page(_with_serums(form, product), product)
    form = _with_serums(ProductForm(), product)
    fields = _fields(form)
    if fields is None:
        return _form_page(form, product, status=422)
    try:
        product_rules.update_product(product, changes=fields)
    except DomainError as error:
        return _form_page(form, product, status=show_domain_error(form, error, FIELDS))
    flash(f"Product {product.name} saved.", "success")
    return redirect(url_for("formulary_products.products", q=product.name))


@bp.route("/<id:product_id>/reorder-points")
@role_page(*PHARMACY_ROLES)
def reorder_points(product_id):
    return _reorder_points_page(product_rules.get_product(product_id))


@bp.route("/<id:product_id>/reorder-points/<id:site_id>", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def set_reorder_point(product_id, site_id):
    """The site's own reorder point of the product, or (`fall_back`) the product's again."""
    product = product_rules.get_product(product_id)
    site = require_site(current_user, site_id)
    if request.form.get("fall_back"):
        product_rules.set_site_reorder_point(product, site.id, reorder_point=None)
        flash(f"{site.name} uses the product's reorder point of {product.name}.", "success")
    else:
        form = SiteReorderPointForm(prefix=_prefix(site.id))
        if not form.validate():
            return _reorder_points_page(product, form, site.id, status=422)
        try:
            product_rules.set_site_reorder_point(
                product, site.id, reorder_point=form.reorder_point.data
            )
        except DomainError as error:
            status = show_domain_error(form, error)
            return _reorder_points_page(product, form, site.id, status=status)
        flash(f"Reorder point of {product.name} at {site.name} saved.", "success")
    return redirect(
        url_for("formulary_products.reorder_points", product_id=product.id, **_page_argument())
    )


def _prefix(site_id: int) -> str:
    return f"site-{site_id}"


def _page_argument() -> dict:
    page = request.args.get("page", "")
    return {"page": page} if page.isdigit() else {}


def _reorder_points_page(
    product: Product, refused: SiteReorderPointForm | None = None, refused_site=None, status=200
):
    """The sites the user works at, each with the product's reorder point there and a form
    to change it (the refused one with its message next to its field)."""
    page = page_of(
        product_rules.reorder_points_by_site(product.id, site_ids_of(current_user)),
        scalars=False,
    )
    forms = {
        row.site_id: refused
        if row.site_id == refused_site
        else SiteReorderPointForm(
            formdata=None, prefix=_prefix(row.site_id), reorder_point=row.reorder_point.normalize()
        )
        for row in page.items
    }
    html = render_template(
        "formulary/reorder_points.html",
        product=product,
        page=page,
        forms=forms,
        back=_page_argument(),
    )
    return html, status


def _with_serums(form: ProductForm, product: Product | None = None) -> ProductForm:
    """Serum versions a product may be: the approved and draft ones, and the one it is."""
    current = product.serum_id if product else None
    serums = db.session.scalars(
        select(Serum)
        .where((Serum.status != SerumStatus.RETIRED) | (Serum.id == current))
        .order_by(Serum.code, Serum.version)
    )
    form.serum_id.choices = [
        SelectChoice("", "—"),
        *(
            SelectChoice(s.id, f"{s.code} version {s.version}: {s.name} ({s.status.value})")
            for s in serums
        ),
    ]
    return form


def _fields(form: ProductForm) -> dict | None:
    valid = form.validate()
    substance_id = None
    if form.substance.data and form.substance.data.strip():
        try:
            [substance] = catalogue.substances_by_names({"substance": [form.substance.data]})[
                "substance"
            ]
            substance_id = substance.id
        except DomainError as error:
            show_domain_error(form, error, FIELDS)
            valid = False
    strength = None
    if form.strength.data and form.strength.data.strip():
        try:
            strength = units.parse_strength_text(form.strength.data)
        except units.UnitError as error:
            form.strength.errors = [*form.strength.errors, str(error)]
            valid = False
    if not valid:
        return None
    return {
        "kind": ProductKind(form.kind.data),
        "name": form.name.data.strip(),
        "unit": form.unit.data.strip(),
        "substance_id": substance_id,
        "serum_id": form.serum_id.data,
        "gtin": (form.gtin.data or "").strip() or None,
        "reorder_point": form.reorder_point.data,
        "days_after_opening": form.days_after_opening.data,
        "storage": form.storage.data,
        "strength": strength,
    }


def _form_page(form: ProductForm, product: Product | None, status: int = 200):
    page = render_template(
        "formulary/product_form.html",
        form=form,
        product=product,
        substance_names=catalogue.ingredient_names(),
    )
    return page, status

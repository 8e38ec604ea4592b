"""The stock lists: every lot (found by its number, filtered by product, status, storage and
last day of use, sorted, a page at a time, each marked when usable today) and every product
with what it has on hand, what of that is usable and whether it is low. Administrators read
them too: the alerts they receive lead to these lots."""

import dataclasses

from flask import Blueprint, render_template, request
from sqlalchemy import select
from wtforms import SelectChoice

from core.accounts import PHARMACY_ROLES
from core.clock import clinic_today
from core.database import db
from core.errors import DomainError
from inventory import lots, stock
from inventory.expiry import usable_on
from inventory.models import Lot, Product
from web.pages import page_of, role_page, show_domain_error
from web.sites import shown_site_ids
from web.stock.forms import (
    DESCENDING,
    SORT_LABELS,
    STATE_LABELS,
    LotFilterForm,
    ProductFilterForm,
)

bp = Blueprint("stock_lists", __name__, url_prefix="/stock")


@bp.app_template_filter("lot_state")
def lot_state_label(state: lots.LotState) -> str:
    return STATE_LABELS[lots.LotState(state)]


@dataclasses.dataclass(frozen=True)
class LotLine:
    lot: Lot
    state: lots.LotState
    usable_today: bool


def lot_lines(found: list[Lot]) -> list[LotLine]:
    today = clinic_today()
    return [LotLine(lot, lots.lot_state(lot), usable_on(lot, today)) for lot in found]


def _product_choices() -> list[SelectChoice]:
    products = db.session.execute(
        select(Product.id, Product.name).order_by(Product.name, Product.id)
    ).all()
    return [SelectChoice("", "Every product"), *(SelectChoice(str(i), n) for i, n in products)]


@bp.route("/lots")
@role_page(*PHARMACY_ROLES)
def lot_list():
    form = LotFilterForm(request.args)
    form.product_id.choices = _product_choices()
    if not form.validate():
        return _lots_page(form, None, status=422)
    try:
        stmt = lots.lot_list(
            lot_number=form.lot_number.data,
            product_id=form.product_id.data,
            site_ids=shown_site_ids(),
            state=form.state.data or None,
            storage=form.storage.data or None,
            expires_from=form.expires_from.data,
            expires_to=form.expires_to.data,
            sort=form.sort.data,
            descending=form.order.data == DESCENDING,
        )
    except DomainError as error:
        return _lots_page(form, None, status=show_domain_error(form, error))
    return _lots_page(form, page_of(stmt))


def _lots_page(form: LotFilterForm, page, status: int = 200):
    filtered = any(
        request.args.get(name) for name in ("lot_number", "product_id", "state", "storage",
                                            "expires_from", "expires_to")
    )  # fmt: skip
    return render_template(
        "stock/lots.html",
        form=form,
        page=page,
        lines=lot_lines(page.items) if page else [],
        filtered=filtered,
        sort_labels=SORT_LABELS,
    ), status


@bp.route("/products")
@role_page(*PHARMACY_ROLES)
def product_list():
    form = ProductFilterForm(request.args)
    if not form.validate():
        return render_template("stock/products.html", form=form, page=None, levels=[]), 422
    today = clinic_today()
    site_ids = shown_site_ids()
    page = page_of(
        stock.product_list(
            as_of=today,
            name=form.name.data,
            kind=form.kind.data or None,
            low_only=form.low.data,
            site_ids=site_ids,
        )
    )
    return render_template(
        "stock/products.html",
        form=form,
        page=page,
        levels=stock.stock_of(page.items, as_of=today, site_ids=site_ids),
        filtered=any(request.args.get(name) for name in ("name", "kind", "low")),
    )

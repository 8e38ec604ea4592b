"""The stock board: the expiry timeline, expired lots, lots waiting for release from
quarantine, recalled lots still on the shelf and low stock, each list its most urgent lots and
a link to all of them in the lot list (`inventory.stock.stock_board`); receiving a lot by its
fields or by scanning its GS1 barcode; FEFO dispense."""

from datetime import date, timedelta

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import (
    SelectChoice,
)

from core.accounts import Role
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from core.errors import DomainError
from inventory import fefo, lots
from inventory.barcodes import read_barcode
from inventory.expiry import Bands, expiry_bands
from inventory.lots import LotSort, LotState
from inventory.models import (
    Lot,
    LotStatus,
    Product,
)
from inventory.purchase_orders import open_lines
from inventory.stock import stock_board
from inventory.value import stock_value, written_off_by_month
from web.pages import (
    as_of_argument,
    quantity_text,
    role_page,
    show_domain_error,
)
from web.sites import shown_site_ids, site_for_the_page
from web.stock.forms import DispenseForm, ReceiveForm
from web.stock.timeline import build_timeline
from web.stock.value_chart import money_text, written_off_chart

bp = Blueprint("stock", __name__, url_prefix="/stock")
bp.add_app_template_filter(money_text, "money")

# The receive form offers the lines of the oldest open purchase orders, at most this many (the
# order's own page receives against any of its lines).
OPEN_LINES_SHOWN = 50


def _product_choices() -> list[SelectChoice]:
    products = db.session.execute(
        select(Product.id, Product.name, Product.unit).order_by(Product.name, Product.id)
    ).all()
    return [SelectChoice(str(pid), f"{name} ({unit})") for pid, name, unit in products]


def _forms(receive_form=None, dispense_form=None):
    receive_form = receive_form or ReceiveForm(formdata=None)
    dispense_form = dispense_form or DispenseForm(formdata=None, prefix=DispenseForm.PREFIX)
    choices = _product_choices()
    receive_form.product_id.choices = [SelectChoice("", "From the barcode, or choose"), *choices]
    receive_form.purchase_order_line_id.choices = [
        SelectChoice("", "None"),
        *(
            SelectChoice(
                str(line.id),
                f"{line.order.number} from {line.order.supplier.name}: {line.product.name}, "
                f"{quantity_text(line.outstanding)} {line.product.unit} to come",
            )
            for line in open_lines(site_ids=shown_site_ids(), limit=OPEN_LINES_SHOWN)
        ),
    ]
    dispense_form.product_id.choices = [SelectChoice("", "Choose a product"), *choices]
    return receive_form, dispense_form


def _board(receive_form=None, dispense_form=None, status: int = 200):
    as_of = as_of_argument(clinic_today())
    receive_form, dispense_form = _forms(receive_form, dispense_form)
    site_ids = shown_site_ids()
    board = stock_board(as_of, bands=expiry_bands(), site_ids=site_ids)
    written_off = written_off_by_month(as_of, site_ids=site_ids)
    page = render_template(
        "stock/board.html",
        board=board,
        as_of=as_of,
        bands=board.bands,
        counts=board.counts,
        timeline=build_timeline(board.timeline, as_of, board.bands),
        everything=_lists_of_everything(as_of, board.bands),
        receive_form=receive_form,
        dispense_form=dispense_form,
        stock_value=stock_value(site_ids=site_ids),
        written_off=written_off,
        written_off_chart=written_off_chart(written_off),
    )
    return page, status


def _lists_of_everything(as_of: date, bands: Bands) -> dict[str, str]:
    """Where each of the board's lists continues: the lot list (or the product list) filtered
    to the same lots, a page at a time."""

    def lots_of(**filters) -> str:
        return url_for("stock_lists.lot_list", **filters)

    day = timedelta(days=1)
    return {
        "expiring": lots_of(state=LotState.AVAILABLE.value, expires_from=as_of.isoformat(),
                            expires_to=(as_of + bands.horizon * day).isoformat()),
        "expired": lots_of(state=LotState.AVAILABLE.value, expires_to=(as_of - day).isoformat()),
        "waiting": lots_of(state=LotState.QUARANTINE.value, sort=LotSort.RECEIVED.value),
        "recalled": lots_of(state=LotState.RECALLED.value, sort=LotSort.PRODUCT.value),
        "low": url_for("stock_lists.product_list", low="y"),
    }  # fmt: skip


@bp.route("")
@role_page(Role.PHARMACIST)
def board():
    return _board()


@bp.route("/receive", methods=["POST"])
@role_page(Role.PHARMACIST)
def receive():
    form, _ = _forms(ReceiveForm())
    valid = form.validate()
    missing = _missing_without_barcode(form)
    if not valid or missing:
        for name in missing:
            getattr(form, name).errors = [*getattr(form, name).errors, missing[name]]
        return _board(receive_form=form, status=422)
    try:
        receipt = _receive(form)
    except DomainError as error:
        return _board(receive_form=form, status=show_domain_error(form, error))
    lot = receipt.lot
    verb = "Received new lot" if receipt.created else "Added stock to lot"
    waits = ", in quarantine until released" if lot.status == LotStatus.QUARANTINE else ""
    flash(
        f"{verb} {lot.lot_number} of {lot.product.name}: "
        f"{quantity_text(lot.quantity_on_hand)} {lot.product.unit} on hand{waits}, "
        f"last day of use {day_text(lot.effective_expiry)}.",
        "success",
    )
    return redirect(url_for("stock.board"))


def _receive(form: ReceiveForm) -> lots.Receipt:
    """Scanned, the barcode says which product, lot and expiry and the typed fields fill in
    what it leaves out; typed alone, the product, lot number and expiry are needed."""
    fields = {
        "quantity": form.quantity.data,
        "user_id": current_user.id,
        "now": utcnow(),
        "product_id": form.product_id.data,
        "lot_number": form.lot_number.data,
        "expiry": lots.typed_expiry(form.expiry_date.data),
        "supplier": form.supplier.data or None,
        "storage": form.storage.data or None,  # none chosen: the product's usual storage
        "quarantine": form.quarantine.data,
        "site_id": site_for_the_page().id,
        "purchase_order_line_id": form.purchase_order_line_id.data,
    }
    barcode = (form.barcode.data or "").strip()
    if barcode:
        return lots.receive_scanned(barcode, **fields)
    return lots.receive(**fields)


def _missing_without_barcode(form: ReceiveForm) -> dict[str, str]:
    """Without a scanned barcode the product, lot number and expiry must be typed: said with
    the form's other errors, all at once."""
    if (form.barcode.data or "").strip():
        return {}
    return {
        name: "Required (or scan the barcode)."
        for name in ("product_id", "lot_number", "expiry_date")
        if not getattr(form, name).data and not getattr(form, name).errors
    }


@bp.route("/barcode")
@role_page(Role.PHARMACIST)
def barcode():
    """For the receive form's scanner field: what a GS1 barcode says, read as the receipt will
    read it, and whether that lot is already on the shelf."""
    label = read_barcode(request.args.get("code", ""))
    product = lots.product_for_barcode(label)
    existing = db.session.scalar(
        select(Lot).where(Lot.product_id == product.id, Lot.lot_number == label.lot_number)
    )
    expiry = None
    if label.expiry_date:
        expiry = label.expiry_date.isoformat()[:7] if label.expiry_month_only else None
        expiry = expiry or label.expiry_date.isoformat()
    return jsonify(
        product_id=product.id,
        product_name=product.name,
        unit=product.unit,
        gtin=label.gtin,
        lot_number=label.lot_number,
        expiry_date=label.expiry_date.isoformat() if label.expiry_date else None,
        expiry_month_only=label.expiry_month_only,
        expiry=expiry,
        existing_lot=None
        if existing is None
        else {
            "id": existing.id,
            "status": existing.status.value,
            "expiry_date": existing.expiry_date.isoformat(),
            "quantity_on_hand": quantity_text(existing.quantity_on_hand),
        },
    )


@bp.route("/dispense", methods=["POST"])
@role_page(Role.PHARMACIST)
def dispense():
    _, form = _forms(dispense_form=DispenseForm(prefix=DispenseForm.PREFIX))
    if not form.validate():
        return _board(dispense_form=form, status=422)
    try:
        picks = fefo.dispense(
            form.product_id.data, form.quantity.data, reason=form.reason.data or None,
            user_id=current_user.id, now=utcnow(), site_id=site_for_the_page().id,
        )  # fmt: skip
    except DomainError as error:
        return _board(dispense_form=form, status=show_domain_error(form, error))
    product = picks[0].lot.product
    taken = ", ".join(f"{quantity_text(p.quantity)} from lot {p.lot_number}" for p in picks)
    flash(
        f"Dispensed {quantity_text(form.quantity.data)} {product.unit} of {product.name}: {taken}.",
        "success",
    )
    return redirect(url_for("stock.board"))

"""The pharmacist's pages: the stock board (expiry timeline, expired lots, low stock), receiving
a lot by its fields or by scanning its GS1 barcode, FEFO dispense, a lot's page with its
ledger, the recall action and, once recalled, its trace (the batches made from it and the
patients treated with it or with them), and compounding a batch of an in-house serum. Each
handler calls the same domain functions as the JSON API."""

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import (
    BooleanField,
    DecimalField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from api.errors import error_payload
from api.web.pages import (
    as_of_argument,
    doses_text,
    exact_quantity,
    optional_record_id,
    quantity_text,
    role_page,
    show_domain_error,
)
from api.web.timeline import build_timeline
from clinic.sessions import sessions_using_lots
from core.accounts import Role
from core.clock import clinic_today, utcnow
from core.database import db
from core.errors import DomainError, Invalid, NotFound
from formulary.models import Serum, SerumSource, SerumStatus
from inventory import fefo, lots
from inventory.barcodes import BoxLabel, read_barcode
from inventory.compounding import compound
from inventory.expiry import ExpiryFormatError, parse_expiry
from inventory.models import (
    Batch,
    BatchConsumption,
    Lot,
    LotStatus,
    Movement,
    Product,
    ProductKind,
    Storage,
)
from inventory.products import product_for_gtin
from inventory.stock import EXPIRY_HORIZON_DAYS, expired_on_shelf, expiring_lots, low_stock
from inventory.trace import trace_recall

bp = Blueprint("stock", __name__, url_prefix="/stock")

EXPIRY_HINT = "YYYY-MM-DD, or YYYY-MM / MM/YYYY when the box shows a month only."


class ReceiveForm(FlaskForm):
    barcode = StringField(
        "Barcode",
        validators=[Optional(), Length(max=200)],
        description="Scan the box (the scanner types the code, then Enter), or type the fields.",
    )
    product_id = SelectField("Product", coerce=optional_record_id, validate_choice=True)
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=60)])
    expiry_date = StringField("Expiry date", validators=[Optional()], description=EXPIRY_HINT)
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])
    supplier = StringField("Supplier", validators=[Optional(), Length(max=160)])
    storage = SelectField("Storage", choices=[SelectChoice(s.value) for s in Storage])
    quarantine = BooleanField("Receive into quarantine (release after inspection)")


class DispenseForm(FlaskForm):
    PREFIX = "dispense"  # it shares the board with the receive form
    product_id = SelectField("Product", coerce=optional_record_id, validators=[DataRequired()])
    quantity = DecimalField("Quantity", validators=[InputRequired(), exact_quantity])
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])


class RecallForm(FlaskForm):
    reason = TextAreaField("Reason for the recall", validators=[DataRequired()])


class BatchForm(FlaskForm):
    # Any id is accepted here: the compounding rules refuse a serum that is not an approved
    # compounded one, with their own message.
    serum_id = SelectField(
        "Serum", coerce=optional_record_id, validate_choice=False, validators=[DataRequired()]
    )
    doses = DecimalField("Doses", validators=[InputRequired(), exact_quantity])
    storage = SelectField(
        "Storage",
        choices=[SelectChoice(s.value) for s in Storage],
        default=Storage.REFRIGERATED.value,
        description="Sets the beyond-use date: 1 day at room temperature, 4 refrigerated.",
    )
    # Only needed when several products stock the serum; the rules say so when it is.
    product_id = SelectField(
        "Stocked as", coerce=optional_record_id, validate_choice=False, validators=[Optional()]
    )
    lot_number = StringField("Lot number (optional)", validators=[Optional(), Length(max=60)])


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
    dispense_form.product_id.choices = [SelectChoice("", "Choose a product"), *choices]
    return receive_form, dispense_form


def _board(receive_form=None, dispense_form=None, status: int = 200):
    as_of = as_of_argument(clinic_today())
    receive_form, dispense_form = _forms(receive_form, dispense_form)
    expiring = expiring_lots(as_of)
    page = render_template(
        "stock/board.html",
        as_of=as_of,
        expiring=expiring,
        timeline=build_timeline(expiring, as_of, EXPIRY_HORIZON_DAYS),
        horizon=EXPIRY_HORIZON_DAYS,
        expired=expired_on_shelf(as_of),
        low=low_stock(as_of),
        receive_form=receive_form,
        dispense_form=dispense_form,
    )
    return page, status


@bp.route("")
@role_page(Role.PHARMACIST)
def board():
    return _board()


@bp.route("/receive", methods=["POST"])
@role_page(Role.PHARMACIST)
def receive():
    form, _ = _forms(ReceiveForm())
    if not form.validate():
        return _board(receive_form=form, status=422)
    try:
        receipt = _receive(form)
    except DomainError as error:
        return _board(receive_form=form, status=show_domain_error(form, error))
    lot = receipt.lot
    verb = "Received new lot" if receipt.created else "Added stock to lot"
    flash(
        f"{verb} {lot.lot_number} of {lot.product.name}: "
        f"{quantity_text(lot.quantity_on_hand)} {lot.product.unit} on hand, "
        f"last day of use {lot.effective_expiry.isoformat()}.",
        "success",
    )
    return redirect(url_for("stock.board"))


def _receive(form: ReceiveForm) -> lots.Receipt:
    """The barcode, when scanned, says which product, lot and expiry; the typed fields fill in
    what it leaves out (an expiry) and must not contradict it."""
    details = {
        "supplier": form.supplier.data or None,
        "storage": form.storage.data,
        "quarantine": form.quarantine.data,
    }
    typed_expiry = _typed_expiry(form.expiry_date.data)
    quantity, user_id, now = form.quantity.data, current_user.id, utcnow()
    barcode = (form.barcode.data or "").strip()
    if not barcode:
        missing = {
            name: ["Required (or scan the barcode)."]
            for name in ("product_id", "lot_number", "expiry_date")
            if not getattr(form, name).data
        }
        if missing:
            raise Invalid(missing)
        return lots.receive(
            form.product_id.data, form.lot_number.data, typed_expiry, quantity, user_id, now,
            **details,
        )  # fmt: skip
    label = read_barcode(barcode)
    product = product_for_gtin(label.gtin)
    if product is None:
        raise Invalid({"barcode": [f"No product with GTIN {label.gtin}: add the product first."]})
    _refuse_contradictions(form, label, product, typed_expiry)
    expiry = lots.Expiry(label.expiry_date, label.expiry_month_only) if label.expiry_date else None
    return lots.receive(
        product.id,
        label.lot_number,
        expiry or typed_expiry,
        quantity,
        user_id,
        now,
        expiry_field="barcode" if expiry else "expiry_date",
        **details,
    )


def _typed_expiry(text: str | None) -> lots.Expiry | None:
    if not text or not text.strip():
        return None
    try:
        return lots.Expiry(*parse_expiry(text))
    except ExpiryFormatError as error:
        raise Invalid({"expiry_date": [str(error)]}) from None


def _refuse_contradictions(form, label: BoxLabel, product: Product, typed_expiry) -> None:
    errors = {}
    if form.product_id.data and form.product_id.data != product.id:
        errors["product_id"] = [f"The barcode is for {product.name}."]
    if form.lot_number.data and form.lot_number.data.strip() != label.lot_number:
        errors["lot_number"] = [f"The barcode says lot {label.lot_number}."]
    if typed_expiry and label.expiry_date and typed_expiry.day != label.expiry_date:
        errors["expiry_date"] = [f"The barcode says {label.expiry_date.isoformat()}."]
    if errors:
        raise Invalid(errors, message="The typed fields contradict the scanned barcode.")


@bp.route("/barcode")
@role_page(Role.PHARMACIST)
def barcode():
    """For the receive form's scanner field: what a GS1 barcode says, read as the receipt will
    read it, and whether that lot is already on the shelf."""
    try:
        label = read_barcode(request.args.get("code", ""))
        product = product_for_gtin(label.gtin)
        if product is None:
            raise Invalid({"barcode": [f"No product with GTIN {label.gtin}: add it first."]})
    except Invalid as error:
        return jsonify(error_payload(422, error.message, error.errors)), 422
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
            form.product_id.data, form.quantity.data, form.reason.data or None,
            current_user.id, utcnow(),
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


@bp.route("/lots/<id:lot_id>")
@role_page(Role.PHARMACIST)
def lot_page(lot_id):
    return _lot_page(lot_id, RecallForm(formdata=None))


def _lot_page(lot_id: int, recall_form: RecallForm, status: int = 200):
    lot = lots.get_lot(lot_id)
    ledger = db.session.scalars(
        select(Movement)
        .where(Movement.lot_id == lot_id)
        .options(joinedload(Movement.user))
        .order_by(Movement.id)
    ).all()
    today = clinic_today()
    trace = trace_recall(lot_id) if lot.status == LotStatus.RECALLED else None
    return render_template(
        "stock/lot.html",
        lot=lot,
        ledger=ledger,
        today=today,
        recall_form=recall_form,
        trace=trace,
        treated=sessions_using_lots(trace.lot_ids) if trace else [],
        lot_numbers={lot.id: lot.lot_number, **{b.id: b.lot_number for b in trace.batches}}
        if trace
        else {},
    ), status


@bp.route("/lots/<id:lot_id>/recall", methods=["POST"])
@role_page(Role.PHARMACIST)
def recall(lot_id):
    form = RecallForm()
    if not form.validate():
        return _lot_page(lot_id, form, status=422)
    try:
        lot = lots.recall(lot_id, form.reason.data)
    except DomainError as error:
        return _lot_page(lot_id, form, status=show_domain_error(form, error))
    flash(f"Lot {lot.lot_number} is recalled: it can never be used again.", "success")
    return redirect(url_for("stock.lot_page", lot_id=lot.id))


# --- compounding -------------------------------------------------------------------------------


def _compounded_serum_choices() -> list[SelectChoice]:
    serums = db.session.execute(
        select(Serum.id, Serum.code, Serum.name, Serum.version)
        .where(Serum.status == SerumStatus.APPROVED, Serum.source == SerumSource.COMPOUNDED)
        .order_by(Serum.name, Serum.code)
    ).all()
    return [
        SelectChoice("", "Choose a serum"),
        *(
            SelectChoice(str(sid), f"{name} ({code} v{version})")
            for sid, code, name, version in serums
        ),
    ]


def _serum_product_choices() -> list[SelectChoice]:
    products = db.session.execute(
        select(Product.id, Product.name, Serum.code)
        .join(Serum, Serum.id == Product.serum_id)
        .where(Product.kind == ProductKind.SERUM, Serum.source == SerumSource.COMPOUNDED)
        .order_by(Product.name, Product.id)
    ).all()
    return [
        SelectChoice("", "The serum's product (when it has only one)"),
        *(SelectChoice(str(pid), f"{name} ({code})") for pid, name, code in products),
    ]


def _batches_page(form: BatchForm, status: int = 200):
    form.serum_id.choices = _compounded_serum_choices()
    form.product_id.choices = _serum_product_choices()
    recent = db.session.scalars(
        select(Batch)
        .options(joinedload(Batch.lot, innerjoin=True).joinedload(Lot.product, innerjoin=True))
        .order_by(Batch.id.desc())  # newest first, by the primary key
        .limit(20)
    ).all()
    return render_template("stock/batches.html", form=form, recent=recent), status


@bp.route("/batches")
@role_page(Role.PHARMACIST)
def batches():
    return _batches_page(BatchForm(formdata=None))


@bp.route("/batches", methods=["POST"])
@role_page(Role.PHARMACIST)
def compound_batch():
    form = BatchForm()
    if not form.validate():
        return _batches_page(form, status=422)
    try:
        serum = db.session.get(Serum, form.serum_id.data)
        if serum is None:
            raise Invalid({"serum_id": [f"No serum with id {form.serum_id.data}."]})
        batch = compound(
            serum, form.doses.data, current_user._get_current_object(), utcnow(),
            storage=form.storage.data, product_id=form.product_id.data,
            lot_number=form.lot_number.data or None,
        )  # fmt: skip
    except DomainError as error:
        # A short component is named next to the doses: fewer doses is what can be made.
        return _batches_page(form, status=show_domain_error(form, error, {"components": "doses"}))
    flash(
        f"Compounded {doses_text(batch.doses)} of {serum.name}: lot "
        f"{batch.lot.lot_number}, last day of use {batch.beyond_use_date.isoformat()}.",
        "success",
    )
    return redirect(url_for("stock.batch_page", batch_id=batch.id))


@bp.route("/batches/<id:batch_id>")
@role_page(Role.PHARMACIST)
def batch_page(batch_id):
    batch = db.session.scalar(
        select(Batch)
        .where(Batch.id == batch_id)
        .options(
            joinedload(Batch.lot, innerjoin=True).joinedload(Lot.product, innerjoin=True),
            selectinload(Batch.consumptions)
            .joinedload(BatchConsumption.lot, innerjoin=True)
            .joinedload(Lot.product, innerjoin=True),
        )
    )
    if batch is None:
        raise NotFound(f"No batch with id {batch_id}.")
    serum = db.session.get(Serum, batch.serum_id)
    return render_template("stock/batch.html", batch=batch, serum=serum)

"""Compounding a batch of an in-house serum, and a batch's page: its compounding record and
its second check. A pharmacist other than the preparer verifies the batch (its lot leaves
quarantine) or rejects it with a reason (its lot is disposed of: the page asks first, a dialog
or without script a confirm page); the preparer reads that a second pharmacist must check it."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import (
    SelectChoice,
)

from core.accounts import Role
from core.clock import day_text, moment_text, utcnow
from core.database import db
from core.errors import DomainError
from formulary.models import Serum, SerumSource, SerumStatus
from formulary.serums import get_serum
from inventory.compounding import compound, get_batch, reject_batch, verify_batch
from inventory.lots import lot_state
from inventory.models import (
    Batch,
    Lot,
    Product,
    ProductKind,
)
from inventory.second_check import PREPARER_CANNOT_CHECK, CheckState, check_refusal, check_state
from web.pages import (
    confirmation_page,
    confirmed,
    doses_text,
    role_page,
    show_domain_error,
)
from web.sites import site_for_the_page
from web.stock.forms import BatchForm, RejectBatchForm, VerifyBatchForm

bp = Blueprint("compounding", __name__, url_prefix="/stock")


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
        serum = get_serum(form.serum_id.data, field="serum_id")
        batch = compound(
            serum, form.doses.data, user=current_user._get_current_object(), now=utcnow(),
            storage=form.storage.data, product_id=form.product_id.data,
            lot_number=form.lot_number.data or None, site_id=site_for_the_page().id,
        )  # fmt: skip
    except DomainError as error:
        # A short component is named next to the doses: fewer doses is what can be made.
        return _batches_page(form, status=show_domain_error(form, error, {"components": "doses"}))
    flash(
        f"Compounded {doses_text(batch.doses)} of {serum.name}: lot "
        f"{batch.lot.lot_number}, last day of use {day_text(batch.beyond_use_date)}.",
        "success",
    )
    return redirect(url_for("compounding.batch_page", batch_id=batch.id))


@bp.route("/batches/<id:batch_id>")
@role_page(Role.PHARMACIST)
def batch_page(batch_id):
    return _batch_page(batch_id)


def _batch_page(batch_id: int, submitted=None, status: int = 200):
    """The compounding record, with the check's forms for whoever may check it (and the form
    of a refused check as it was sent)."""
    batch = get_batch(batch_id)
    forms = {
        form_class.PREFIX: form_class(formdata=None, prefix=form_class.PREFIX)
        for form_class in (VerifyBatchForm, RejectBatchForm)
    }
    if submitted is not None:
        forms[submitted.PREFIX] = submitted
    user = current_user._get_current_object()
    refusal = check_refusal(batch, batch.lot, pharmacist=user)
    return render_template(
        "stock/batch.html",
        batch=batch,
        serum=batch.serum,
        state=check_state(batch),
        lot_state=lot_state(batch.lot),
        states=CheckState,
        may_check=refusal is None,
        is_preparer=refusal == PREPARER_CANNOT_CHECK,
        forms=forms,
    ), status


@bp.route("/batches/<id:batch_id>/verify", methods=["POST"])
@role_page(Role.PHARMACIST)
def verify(batch_id):
    form = VerifyBatchForm(prefix=VerifyBatchForm.PREFIX)
    if not form.validate():
        return _batch_page(batch_id, form, status=422)
    try:
        batch = verify_batch(batch_id, pharmacist=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        return _batch_page(batch_id, form, status=show_domain_error(form, error))
    flash(
        f"Verified batch {batch.lot.lot_number} of {batch.serum.name}: its lot is released, "
        f"usable through {day_text(batch.beyond_use_date)}.",
        "success",
    )
    return redirect(url_for("compounding.batch_page", batch_id=batch.id))


@bp.route("/batches/<id:batch_id>/reject", methods=["POST"])
@role_page(Role.PHARMACIST)
def reject(batch_id):
    form = RejectBatchForm(prefix=RejectBatchForm.PREFIX)
    if not form.validate():
        return _batch_page(batch_id, form, status=422)
    reason = form.reason.data.strip()
    if not confirmed():
        batch = get_batch(batch_id)
        lot = batch.lot
        return confirmation_page(
            title=f"Reject batch {lot.lot_number}?",
            question=(
                f"Reject batch {lot.lot_number} of {batch.serum.name} and dispose of all "
                f"{doses_text(batch.doses)}?"
            ),
            action="Yes, reject and dispose of it",
            cancel_url=url_for("compounding.batch_page", batch_id=batch.id),
            details=(f"Reason: {reason}", "What is disposed of leaves the stock for good."),
        )
    try:
        batch = reject_batch(
            batch_id, pharmacist=current_user._get_current_object(), reason=reason, now=utcnow()
        )
    except DomainError as error:
        return _batch_page(batch_id, form, status=show_domain_error(form, error))
    flash(
        f"Rejected batch {batch.lot.lot_number} of {batch.serum.name} ({reason}): its lot is "
        f"disposed of. Rejected on {moment_text(batch.rejected_at)}.",
        "success",
    )
    return redirect(url_for("compounding.batch_page", batch_id=batch.id))

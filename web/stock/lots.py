"""A lot's page: its ledger, the recall action and, once recalled, its trace (the batches made
from it and the patients treated with it or with them)."""

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic.recall import trace_to_patients
from core.accounts import Role
from core.clock import clinic_today
from core.database import db
from core.errors import DomainError
from inventory import lots
from inventory.models import (
    LotStatus,
    Movement,
)
from web.pages import (
    role_page,
    show_domain_error,
)
from web.stock.forms import RecallForm

bp = Blueprint("stock_lots", __name__, url_prefix="/stock")


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
    trace = trace_to_patients(lot_id) if lot.status == LotStatus.RECALLED else None
    return render_template(
        "stock/lot.html",
        lot=lot,
        ledger=ledger,
        today=today,
        recall_form=recall_form,
        trace=trace,
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
    return redirect(url_for("stock_lots.lot_page", lot_id=lot.id))


# --- compounding -------------------------------------------------------------------------------

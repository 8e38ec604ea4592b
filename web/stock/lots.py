"""A lot's page: what it is and holds, its ledger, everything that can still happen to it
(release from quarantine or put back into it, open, adjust the count, dispose of, recall)
and, once recalled, its trace (the batches made from it and the patients treated with it or
with them); and its printable label.

Disposing and recalling cannot be undone: the page asks first (a dialog, or without script a
confirm page). After each step the page says what the lot now has on hand. Administrators read
the page without its forms: the alerts they receive lead here."""

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from clinic.recall import trace_to_patients
from core.accounts import PHARMACY_ROLES, Role
from core.clock import clinic_timezone, clinic_today, day_text, moment_text, utcnow
from core.database import db
from core.errors import DomainError
from inventory import lots
from inventory.expiry import usable_on
from inventory.labels import lot_label
from inventory.ledger import lot_ledger
from inventory.lots import LotState, Transition
from inventory.models import Lot
from inventory.second_check import PREPARER_CANNOT_CHECK, batch_of_lot, check_refusal
from web.pages import (
    confirmation_page,
    confirmed,
    page_of,
    quantity_text,
    role_page,
    show_domain_error,
)
from web.sites import refuse_outside_its_site
from web.stock.forms import (
    AdjustForm,
    DisposeForm,
    OpenForm,
    QuarantineForm,
    RecallForm,
    ReleaseForm,
)

bp = Blueprint("stock_lots", __name__, url_prefix="/stock")


@bp.before_request
def _only_the_lots_of_ones_sites():
    """A lot of a site the user does not work at is refused (403) on every page and action
    of a lot; an unknown lot is left to the page's own 404."""
    lot_id = (request.view_args or {}).get("lot_id")
    if lot_id is not None:
        refuse_outside_its_site(db.session.scalar(select(Lot.site_id).where(Lot.id == lot_id)))


FORMS = {
    Transition.RELEASE: ReleaseForm,
    Transition.QUARANTINE: QuarantineForm,
    Transition.OPEN: OpenForm,
    Transition.ADJUST: AdjustForm,
    Transition.DISPOSE: DisposeForm,
    Transition.RECALL: RecallForm,
}


def _clinic_minute_now() -> datetime:
    """Now on the clinic's wall clock, to the minute, as a datetime-local field shows it."""
    return utcnow().astimezone(clinic_timezone()).replace(tzinfo=None, second=0, microsecond=0)


def _blank_forms() -> dict[Transition, object]:
    forms = {
        transition: form_class(formdata=None, prefix=form_class.PREFIX)
        for transition, form_class in FORMS.items()
    }
    forms[Transition.OPEN].opened_at.data = _clinic_minute_now()
    return forms


def _submitted(transition: Transition):
    form_class = FORMS[transition]
    return form_class(prefix=form_class.PREFIX)


@bp.route("/lots/<id:lot_id>")
@role_page(*PHARMACY_ROLES)
def lot_page(lot_id):
    return _lot_page(lot_id)


@bp.route("/lots/<id:lot_id>/label")
@role_page(*PHARMACY_ROLES)
def label(lot_id):
    """The lot's label to print: product, lot, expiry or beyond-use date, storage, who
    compounded it, and a GS1 DataMatrix that receiving reads back to this lot."""
    return render_template("stock/label.html", label=lot_label(lot_id))


def _lot_page(lot_id: int, submitted: tuple | None = None, status: int = 200):
    """The page, with the form of a refused step (`(transition, form)`) as it was sent."""
    lot = lots.get_lot(lot_id)
    forms = _blank_forms()
    if submitted is not None:
        forms[submitted[0]] = submitted[1]
    ledger = page_of(lot_ledger(lot_id))
    today = clinic_today()
    state = lots.lot_state(lot)
    trace = trace_to_patients(lot_id) if state == LotState.RECALLED else None
    acts = current_user.role == Role.PHARMACIST
    allowed = {t.value for t in lots.transitions(lot)} if acts else set()
    # A compounded batch's lot is released by its second check: never by its preparer.
    batch = batch_of_lot(lot.id)
    preparer_waits = (
        batch is not None
        and check_refusal(batch, lot, pharmacist=current_user._get_current_object())
        == PREPARER_CANNOT_CHECK
    )
    if preparer_waits:
        allowed.discard(Transition.RELEASE.value)
    return render_template(
        "stock/lot.html",
        lot=lot,
        state=state,
        usable_today=usable_on(lot, today),
        on_hand=on_hand_sentence(lot),
        ledger=ledger,
        today=today,
        forms=forms,
        acts=acts,
        allowed=allowed,
        batch=batch,
        preparer_waits=preparer_waits,
        now_max=_clinic_minute_now().isoformat(timespec="minutes"),
        trace=trace,
    ), status


def amount_text(lot: Lot, quantity) -> str:
    return f"{quantity_text(quantity)} {lot.product.unit}"


def on_hand_sentence(lot: Lot) -> str:
    """What the lot has on hand now, and what that means for the shelf."""
    state = lots.lot_state(lot)
    held = amount_text(lot, lot.quantity_on_hand)
    if state == LotState.DISPOSED:
        return "Nothing left on hand: the lot is disposed of."
    if lot.quantity_on_hand == 0:
        return "Nothing left on hand."
    if state == LotState.RECALLED:
        return f"Now {held} on hand, recalled: not stock any more, dispose of them."
    if state == LotState.QUARANTINE:
        return f"Now {held} on hand, in quarantine until released."
    if usable_on(lot, clinic_today()):
        return f"Now {held} on hand, usable today."
    return f"Now {held} on hand, past its last day of use: dispose of them."


def _done(lot: Lot, message: str):
    flash(f"{message} {on_hand_sentence(lot)}", "success")
    return redirect(url_for("stock_lots.lot_page", lot_id=lot.id))


def _refused(lot_id: int, transition: Transition, form, error: DomainError):
    return _lot_page(lot_id, (transition, form), status=show_domain_error(form, error))


def _lot_name(lot: Lot, first: bool = False) -> str:
    return f"{'Lot' if first else 'lot'} {lot.lot_number} of {lot.product.name}"


@bp.route("/lots/<id:lot_id>/release", methods=["POST"])
@role_page(Role.PHARMACIST)
def release(lot_id):
    form = _submitted(Transition.RELEASE)
    if not form.validate():
        return _lot_page(lot_id, (Transition.RELEASE, form), status=422)
    try:
        lot = lots.release(lot_id, user=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        return _refused(lot_id, Transition.RELEASE, form, error)
    if batch_of_lot(lot.id) is not None:
        return _done(lot, f"Verified batch {lot.lot_number} and released it from quarantine.")
    return _done(lot, f"Released {_lot_name(lot)} from quarantine.")


@bp.route("/lots/<id:lot_id>/quarantine", methods=["POST"])
@role_page(Role.PHARMACIST)
def quarantine(lot_id):
    form = _submitted(Transition.QUARANTINE)
    if not form.validate():
        return _lot_page(lot_id, (Transition.QUARANTINE, form), status=422)
    reason = form.reason.data.strip()
    try:
        lot = lots.quarantine(lot_id, reason)
    except DomainError as error:
        return _refused(lot_id, Transition.QUARANTINE, form, error)
    return _done(lot, f"Put {_lot_name(lot)} in quarantine ({reason}).")


@bp.route("/lots/<id:lot_id>/open", methods=["POST"])
@role_page(Role.PHARMACIST)
def open_lot(lot_id):
    form = _submitted(Transition.OPEN)
    if not form.validate():
        return _lot_page(lot_id, (Transition.OPEN, form), status=422)
    # A moment typed on the clinic's wall clock.
    opened_at = form.opened_at.data
    if opened_at is not None:
        opened_at = opened_at.replace(tzinfo=clinic_timezone())
    already_opened = lots.get_lot(lot_id).opened_at
    try:
        lot = lots.open_lot(lot_id, now=utcnow(), opened_at=opened_at)
    except DomainError as error:
        return _refused(lot_id, Transition.OPEN, form, error)
    if already_opened is not None:
        flash(
            f"{_lot_name(lot, first=True)} was already opened on "
            f"{moment_text(already_opened)}: nothing changed.",
            "info",
        )
        return redirect(url_for("stock_lots.lot_page", lot_id=lot.id))
    return _done(
        lot,
        f"Opened {_lot_name(lot)} on {moment_text(lot.opened_at)}: last day of use "
        f"{day_text(lot.effective_expiry)}.",
    )


@bp.route("/lots/<id:lot_id>/adjust", methods=["POST"])
@role_page(Role.PHARMACIST)
def adjust(lot_id):
    form = _submitted(Transition.ADJUST)
    if not form.validate():
        return _lot_page(lot_id, (Transition.ADJUST, form), status=422)
    quantity, reason = form.quantity.data, form.reason.data.strip()
    try:
        lot = lots.adjust(
            lot_id, quantity=quantity, reason=reason, user_id=current_user.id, now=utcnow()
        )
    except DomainError as error:
        return _refused(lot_id, Transition.ADJUST, form, error)
    change = f"+{quantity_text(quantity)}" if quantity > 0 else quantity_text(quantity)
    return _done(lot, f"Adjusted {_lot_name(lot)} by {change} {lot.product.unit} ({reason}).")


@bp.route("/lots/<id:lot_id>/dispose", methods=["POST"])
@role_page(Role.PHARMACIST)
def dispose(lot_id):
    form = _submitted(Transition.DISPOSE)
    if not form.validate():
        return _lot_page(lot_id, (Transition.DISPOSE, form), status=422)
    lot = lots.get_lot(lot_id)
    quantity, reason = form.quantity.data, form.reason.data.strip()
    if not confirmed():
        amount = (
            amount_text(lot, quantity)
            if quantity is not None
            else f"all {amount_text(lot, lot.quantity_on_hand)} on hand"
        )
        return confirmation_page(
            title=f"Dispose of lot {lot.lot_number}?",
            question=f"Dispose of {amount} of {lot.product.name}, lot {lot.lot_number}?",
            action="Yes, dispose of them",
            cancel_url=url_for("stock_lots.lot_page", lot_id=lot.id),
            details=(f"Reason: {reason}", "What is disposed of leaves the stock for good."),
        )
    before = lot.quantity_on_hand
    try:
        lot = lots.dispose(
            lot_id, reason=reason, user_id=current_user.id, now=utcnow(), quantity=quantity
        )
    except DomainError as error:
        return _refused(lot_id, Transition.DISPOSE, form, error)
    disposed = before - lot.quantity_on_hand
    return _done(
        lot,
        f"Disposed of {amount_text(lot, disposed)} of {lot.product.name}, lot {lot.lot_number} "
        f"({reason}).",
    )


@bp.route("/lots/<id:lot_id>/recall", methods=["POST"])
@role_page(Role.PHARMACIST)
def recall(lot_id):
    form = _submitted(Transition.RECALL)
    if not form.validate():
        return _lot_page(lot_id, (Transition.RECALL, form), status=422)
    reason = form.reason.data.strip()
    if not confirmed():
        lot = lots.get_lot(lot_id)
        return confirmation_page(
            title=f"Recall lot {lot.lot_number}?",
            question=f"Recall {_lot_name(lot)}? It can never be used again, whatever its stock.",
            action="Yes, recall the lot",
            cancel_url=url_for("stock_lots.lot_page", lot_id=lot.id),
            details=(f"Reason: {reason}", "A recall alert goes to the alert inbox at once."),
        )
    try:
        lot = lots.recall(lot_id, reason=reason, now=utcnow())
    except DomainError as error:
        return _refused(lot_id, Transition.RECALL, form, error)
    return _done(lot, f"{_lot_name(lot, first=True)} is recalled: it can never be used again.")

"""Transfers between the chain's sites, in the browser: the list (of the header's site, or all
of the user's), a new draft from the header's site, the draft's lots added by scanning them,
shipping (asked first: the stock leaves the shelf), and at the destination the receipt, each
lot scanned as it is unpacked, with what arrived short and why. Every rule is
`inventory.transfers`'s, as for POST /api/transfers and its actions."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.accounts import PHARMACY_ROLES, Role
from core.clock import utcnow
from core.database import db
from core.errors import DomainError, Invalid
from core.sites import site_list, works_at
from inventory import transfers
from inventory.models import Transfer, TransferStatus
from web.pages import (
    confirmation_page,
    confirmed,
    page_of,
    quantity_text,
    role_page,
    show_domain_error,
)
from web.sites import shown_site_ids, site_for_the_page
from web.stock.forms import (
    CancelTransferForm,
    NewTransferForm,
    ReceiveTransferForm,
    ScanArrivalForm,
    TransferLotForm,
)

bp = Blueprint("stock_transfers", __name__, url_prefix="/stock")

STATUS_TEXT = {
    TransferStatus.DRAFT: "Being prepared",
    TransferStatus.SHIPPED: "On its way",
    TransferStatus.RECEIVED: "Received",
    TransferStatus.CANCELLED: "Cancelled",
}
STATUS_CHOICES = [("", "Any"), *((status.value, text) for status, text in STATUS_TEXT.items())]


@bp.app_template_filter("transfer_status")
def transfer_status_text(status: TransferStatus) -> str:
    return STATUS_TEXT[TransferStatus(status)]


@bp.route("/transfers")
@role_page(*PHARMACY_ROLES)
def transfer_list():
    status = request.args.get("status") or None
    if status not in {None, *TransferStatus}:
        status = None
    listed = transfers.transfer_list(site_ids=shown_site_ids(), status=status)
    return render_template(
        "stock/transfers.html", page=page_of(listed), status=status, choices=STATUS_CHOICES
    )


@bp.route("/transfers/new", methods=["GET", "POST"])
@role_page(Role.PHARMACIST)
def new_transfer():
    try:
        source = site_for_the_page()
    except Invalid as error:
        return render_template("stock/transfer_new.html", form=None, problem=error.message), 422
    form = NewTransferForm()
    form.to_site_id.choices = [("", "Choose the site")] + [
        (site.id, site.name) for site in db.session.scalars(site_list()) if site.id != source.id
    ]
    status = 200
    if form.validate_on_submit():
        try:
            transfer = transfers.create_transfer(
                user=_user(),
                from_site_id=source.id,
                to_site_id=form.to_site_id.data,
                lines=[],
                now=utcnow(),
            )
        except DomainError as error:
            status = show_domain_error(form, error)
        else:
            flash(f"Transfer to {transfer.to_site.name} started: add the lots to send.", "success")
            return redirect(url_for(".transfer_page", transfer_id=transfer.id))
    elif form.is_submitted():
        status = 422
    return render_template("stock/transfer_new.html", form=form, source=source), status


@bp.route("/transfers/<id:transfer_id>")
@role_page(*PHARMACY_ROLES)
def transfer_page(transfer_id):
    return _transfer_page(transfer_id)


@bp.route("/transfers/<id:transfer_id>/lots", methods=["POST"])
@role_page(Role.PHARMACIST)
def add_lot(transfer_id):
    form = TransferLotForm()
    if not form.validate():
        return _transfer_page(transfer_id, lot_form=form, status=422)
    try:
        transfer = transfers.draft_at_source(_user(), transfer_id)
        lot = transfers.lot_to_send(transfer.from_site_id, form.barcode.data)
        transfers.add_line(transfer, lot_id=lot.id, quantity=form.quantity.data, now=utcnow())
    except DomainError as error:
        fields = {"lines.lot_id": "barcode", "lines.quantity": "quantity"}
        status = show_domain_error(form, error, fields)
        return _transfer_page(transfer_id, lot_form=form, status=status)
    flash(
        f"Added {quantity_text(form.quantity.data)} {lot.product.unit} of {lot.product.name}, "
        f"lot {lot.lot_number}.",
        "success",
    )
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


@bp.route("/transfers/<id:transfer_id>/lines/<id:line_id>/remove", methods=["POST"])
@role_page(Role.PHARMACIST)
def remove_lot(transfer_id, line_id):
    try:
        transfer = transfers.draft_at_source(_user(), transfer_id)
        transfers.remove_line(transfer, line_id)
    except DomainError as error:
        return _refused(transfer_id, error)
    flash("Taken off the transfer.", "success")
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


@bp.route("/transfers/<id:transfer_id>/ship", methods=["POST"])
@role_page(Role.PHARMACIST)
def ship(transfer_id):
    transfer = _readable(transfer_id)
    if not confirmed():
        return confirmation_page(
            title="Ship the transfer?",
            question=f"Ship {_lots_text(transfer)} to {transfer.to_site.name}?",
            action="Yes, ship them",
            cancel_url=url_for(".transfer_page", transfer_id=transfer_id),
            details=(
                *(_line_text(line) for line in transfer.lines),
                f"The stock leaves {transfer.from_site.name} now, until "
                f"{transfer.to_site.name} receives it.",
            ),
        )
    try:
        transfers.ship_transfer(transfer_id, user=_user(), now=utcnow())
    except DomainError as error:
        return _refused(transfer_id, error)
    flash(
        f"Shipped to {transfer.to_site.name}: the stock has left {transfer.from_site.name}.",
        "success",
    )
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


@bp.route("/transfers/<id:transfer_id>/check", methods=["POST"])
@role_page(Role.PHARMACIST)
def check_lot(transfer_id):
    """One lot scanned as it is unpacked: nothing is stored yet, the page remembers it until
    the receipt is recorded."""
    transfer = _readable(transfer_id)
    scanned = _scanned(transfer)
    form = ScanArrivalForm()
    if not form.validate():
        return _transfer_page(transfer_id, scan_form=form, scanned=scanned, status=422)
    try:
        line = transfers.line_for_scan(transfer, form.barcode.data)
    except DomainError as error:
        status = show_domain_error(form, error)
        return _transfer_page(transfer_id, scan_form=form, scanned=scanned, status=status)
    scanned.add(line.lot_id)
    flash(
        f"Lot {line.lot.lot_number} checked: {len(scanned)} of {len(transfer.lines)} lots.",
        "success",
    )
    return _transfer_page(transfer_id, scanned=scanned)


@bp.route("/transfers/<id:transfer_id>/receive", methods=["POST"])
@role_page(Role.PHARMACIST)
def receive(transfer_id):
    transfer = _readable(transfer_id)
    scanned = _scanned(transfer)
    form = ReceiveTransferForm()
    if not form.validate():
        return _transfer_page(transfer_id, receive_form=form, scanned=scanned, status=422)
    receipts = [
        {
            "lot_id": line.lot_id,
            "received_quantity": entry.received_quantity.data,
            "reason": entry.reason.data,
        }
        for line, entry in zip(transfer.lines, form.lines, strict=False)
    ]
    try:
        transfers.receive_transfer(
            transfer_id, user=_user(), now=utcnow(), receipts=receipts, scanned=scanned
        )
    except DomainError as error:
        db.session.rollback()
        _place_line_errors(form, error)
        return _transfer_page(transfer_id, receive_form=form, scanned=scanned, status=error.status)
    transfer = transfers.get_transfer(transfer_id)
    held = [
        line for line in transfer.lines if line.received_lot and line.received_lot.status_reason
    ]
    message = f"Received at {transfer.to_site.name}: the stock is on its shelves."
    if held:
        message += f" {held[0].received_lot.status_reason}"
    flash(message, "success")
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


@bp.route("/transfers/<id:transfer_id>/cancel", methods=["POST"])
@role_page(Role.PHARMACIST)
def cancel(transfer_id):
    transfer = _readable(transfer_id)
    form = CancelTransferForm()
    if not form.validate():
        return _transfer_page(transfer_id, cancel_form=form, status=422)
    if not confirmed():
        return confirmation_page(
            title="Cancel the transfer?",
            question=f"Cancel the transfer to {transfer.to_site.name}?",
            action="Yes, cancel it",
            cancel_url=url_for(".transfer_page", transfer_id=transfer_id),
            details=("Nothing has left the shelf: the lots stay where they are.",),
        )
    try:
        transfers.cancel_transfer(transfer_id, user=_user(), reason=form.reason.data, now=utcnow())
    except DomainError as error:
        return _refused(transfer_id, error)
    flash("Transfer cancelled.", "success")
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


# --- the page --------------------------------------------------------------------------------


def _transfer_page(
    transfer_id: int,
    *,
    lot_form=None,
    scan_form=None,
    receive_form=None,
    cancel_form=None,
    scanned: set[int] | None = None,
    status: int = 200,
):
    transfer = _readable(transfer_id)
    user = _user()
    acts = user.role == Role.PHARMACIST
    if receive_form is None:
        receive_form = ReceiveTransferForm(formdata=None, data={"lines": [
            {"lot_id": line.lot_id, "received_quantity": line.quantity, "reason": ""}
            for line in transfer.lines
        ]})  # fmt: skip
    page = render_template(
        "stock/transfer.html",
        transfer=transfer,
        can_prepare=acts
        and transfer.status == TransferStatus.DRAFT
        and works_at(user, transfer.from_site_id),
        can_receive=acts
        and transfer.status == TransferStatus.SHIPPED
        and works_at(user, transfer.to_site_id),
        can_cancel=acts and transfer.status == TransferStatus.DRAFT,
        lot_form=lot_form or TransferLotForm(formdata=None),
        scan_form=scan_form or ScanArrivalForm(formdata=None),
        receive_form=receive_form,
        cancel_form=cancel_form or CancelTransferForm(formdata=None),
        scanned=scanned or set(),
        lines=list(zip(transfer.lines, receive_form.lines, strict=False)),
    )
    return page, status


def _readable(transfer_id: int) -> Transfer:
    try:
        return transfers.transfer_for(_user(), transfer_id)
    except DomainError as error:
        abort(error.status)


def _refused(transfer_id: int, error: DomainError):
    db.session.rollback()
    flash(error.message, "error")
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


def _scanned(transfer: Transfer) -> set[int]:
    """The lots scanned so far, as the page carried them (only the transfer's own)."""
    on_transfer = {line.lot_id for line in transfer.lines}
    carried = {value for value in request.form.getlist("scanned") if value.isdigit()}
    return {int(value) for value in carried} & on_transfer


def _place_line_errors(form: ReceiveTransferForm, error: DomainError) -> None:
    """The domain names a line's field `lines.N.name`: its message goes next to it."""
    for name, messages in error.errors.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(form.lines.entries):
                entry = form.lines.entries[index]
                getattr(entry, parts[2]).errors = list(messages)
                continue
        form.form_errors.append(" ".join(messages))
    form.form_errors.append(error.message)


def _lots_text(transfer: Transfer) -> str:
    count = len(transfer.lines)
    return f"{count} lot" if count == 1 else f"{count} lots"


def _line_text(line) -> str:
    lot = line.lot
    amount = f"{quantity_text(line.quantity)} {lot.product.unit}"
    return f"{amount} of {lot.product.name}, lot {lot.lot_number}"


def _user():
    return current_user._get_current_object()

"""Stock counts, the pharmacist's pages: the list of counts and a form to begin one at the site
chosen in the header; the count screen, made for a phone at the shelf (a barcode field, then
how many are there; each lot of the sheet with its own field), never showing what the ledger
holds while the count is open; submitting (asked first); and the approval view, the variances
with approve and cancel (each asked first). A variance beyond the clinic's threshold is
approved by a second pharmacist: the one who submitted it reads so."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.accounts import Role
from core.clock import utcnow
from core.errors import DomainError
from inventory import counts
from inventory.counts import CountStatus
from web.pages import (
    confirmation_page,
    confirmed,
    page_of,
    quantity_text,
    role_page,
    show_domain_error,
)
from web.sites import shown_site_ids, site_for_the_page
from web.stock.forms import STORAGE_PLACES, CountEntryForm, CountStartForm, CountStepForm

bp = Blueprint("stock_counts", __name__, url_prefix="/stock")

STATUS_LABELS = {
    CountStatus.OPEN: "Counting",
    CountStatus.SUBMITTED: "Waiting for approval",
    CountStatus.APPROVED: "Approved",
    CountStatus.CANCELLED: "Cancelled",
}
# The domain names an entry's fields by its place in a request ("0.barcode"): one entry here.
ENTRY_FIELDS = {"0.barcode": "barcode", "0.counted": "counted", "0.lot_id": "counted"}


@bp.app_template_filter("count_status")
def count_status_label(status: CountStatus) -> str:
    return STATUS_LABELS[CountStatus(status)]


@bp.app_template_filter("count_scope")
def count_scope(count: counts.StockCount) -> str:
    return STORAGE_PLACES[count.storage] if count.storage else "Every lot of the site"


@bp.route("/counts")
@role_page(Role.PHARMACIST)
def count_list():
    return _list_page(CountStartForm(formdata=None))


def _list_page(form: CountStartForm, status: int = 200):
    wanted = request.args.get("status") or None
    if wanted is not None and wanted not in set(CountStatus):
        abort(422, description="status must be open, submitted, approved or cancelled.")
    page = page_of(counts.count_list(site_ids=shown_site_ids(), status=wanted))
    return render_template(
        "stock/counts.html", form=form, page=page, wanted=wanted, statuses=STATUS_LABELS
    ), status


@bp.route("/counts", methods=["POST"])
@role_page(Role.PHARMACIST)
def start_count():
    form = CountStartForm()
    if not form.validate():
        return _list_page(form, status=422)
    try:
        count = counts.start_count(
            site_for_the_page().id, user=current_user._get_current_object(), now=utcnow(),
            storage=form.storage.data or None,
        )  # fmt: skip
    except DomainError as error:
        return _list_page(form, status=show_domain_error(form, error))
    lots = len(count.lines)
    flash(
        f"Count {count.reference} begun at {count.site.name}: {lots} lot"
        f"{'' if lots == 1 else 's'} to count. Scan each box, or enter each lot below.",
        "success",
    )
    return redirect(url_for("stock_counts.count_page", count_id=count.id))


@bp.route("/counts/<id:count_id>")
@role_page(Role.PHARMACIST)
def count_page(count_id):
    return _count_page(count_id)


def _at_my_site(count_id: int) -> counts.StockCount:
    return counts.count_for(current_user, count_id)


def _count_page(
    count_id: int,
    entry_form: CountEntryForm | None = None,
    *,
    step_form: CountStepForm | None = None,
    line_errors: dict | None = None,
    scanned=None,
    status: int = 200,
):
    """The count screen (open) or its approval view (submitted and after). `scanned` is the
    lot a box scanned without a quantity is of: the page asks how many are on the shelf."""
    count = _at_my_site(count_id)
    user = current_user._get_current_object()
    thresholds = counts.approval_thresholds()
    refusal = counts.approval_refusal(count, user)
    return render_template(
        "stock/count.html",
        count=count,
        statuses=CountStatus,
        entry_form=entry_form or CountEntryForm(formdata=None),
        step_form=step_form or CountStepForm(formdata=None),
        line_errors=line_errors or {},
        scanned=scanned,
        entered=sum(1 for line in count.lines if line.entered),
        beyond={line.id for line in count.lines if counts.beyond_threshold(line, thresholds)},
        differing=[line for line in count.lines if line.variance],
        thresholds=thresholds,
        may_approve=refusal is None,
        is_submitter=refusal == counts.SUBMITTER_CANNOT_APPROVE,
    ), status


@bp.route("/counts/<id:count_id>/lines", methods=["POST"])
@role_page(Role.PHARMACIST)
def enter_count(count_id):
    _at_my_site(count_id)
    form = CountEntryForm()
    lot_id = form.lot_id.data if form.lot_id.validate(form) else None
    if not form.validate():
        return _refused_entry(count_id, form, lot_id)
    barcode = (form.barcode.data or "").strip() or None
    if barcode is None and lot_id is None:
        form.barcode.errors = ["Scan the box, or enter a lot of the list below."]
        return _count_page(count_id, form, status=422)
    if form.counted.data is None:
        if barcode is None:
            form.counted.errors = ["How many are on the shelf? 0 when there is none."]
            return _refused_entry(count_id, form, lot_id)
        # A box scanned: which lot it is, then how many of it are on the shelf.
        try:
            scanned = counts.lot_to_count(count_id, barcode=barcode)
        except DomainError as error:
            return _count_page(count_id, form, status=show_domain_error(form, error, ENTRY_FIELDS))
        return _count_page(count_id, form, scanned=scanned)
    entry = counts.Entry(counted=form.counted.data, lot_id=None if barcode else lot_id,
                         barcode=barcode)  # fmt: skip
    try:
        [line] = counts.record_counts(
            count_id, [entry], user=current_user._get_current_object(), now=utcnow()
        )
    except DomainError as error:
        status = show_domain_error(form, error, ENTRY_FIELDS)
        return _refused_entry(count_id, form, None if barcode else lot_id, status=status)
    flash(
        f"Lot {line.lot_number} of {line.product_name}: {quantity_text(line.counted)} "
        f"{line.unit} on the shelf{' (not on the sheet: added)' if line.added else ''}.",
        "success",
    )
    # No #fragment: a browser skips autofocus on a page opened at one.
    return redirect(url_for("stock_counts.count_page", count_id=count_id))


def _refused_entry(count_id: int, form: CountEntryForm, lot_id: int | None, status: int = 422):
    """A refused entry of a lot of the list is told next to that lot's field."""
    if lot_id is None or form.barcode.data:
        return _count_page(count_id, form, status=status)
    messages = [*form.counted.errors, *form.form_errors]
    return _count_page(
        count_id, CountEntryForm(formdata=None), line_errors={lot_id: messages}, status=status
    )


@bp.route("/counts/<id:count_id>/submit", methods=["POST"])
@role_page(Role.PHARMACIST)
def submit(count_id):
    count = _at_my_site(count_id)
    form = CountStepForm()
    if not form.validate():
        return _count_page(count_id, step_form=form, status=422)
    if not confirmed():
        missing = sum(1 for line in count.lines if not line.entered)
        return confirmation_page(
            title=f"Submit count {count.reference}?",
            question=f"Submit count {count.reference} and compare it with the stock records?",
            action="Yes, submit the count",
            cancel_url=url_for("stock_counts.count_page", count_id=count.id),
            details=(
                f"{len(count.lines) - missing} of {len(count.lines)} lots counted.",
                f"{missing} lot{'' if missing == 1 else 's'} not counted will be counted as 0: "
                "not found on the shelf."
                if missing
                else "Every lot of the sheet is counted.",
                "Nothing more can be counted on this sheet once it is submitted.",
            ),
        )
    try:
        count = counts.submit_count(count_id, user=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        return _count_page(count_id, step_form=form, status=show_domain_error(form, error))
    differing = sum(1 for line in count.lines if line.variance)
    second = " A second pharmacist approves it." if count.needs_second_approval else ""
    flash(
        f"Count {count.reference} submitted: {differing} lot{'' if differing == 1 else 's'} "
        f"differ{'s' if differing == 1 else ''} from the stock records.{second}",
        "success",
    )
    return redirect(url_for("stock_counts.count_page", count_id=count.id))


@bp.route("/counts/<id:count_id>/approve", methods=["POST"])
@role_page(Role.PHARMACIST)
def approve(count_id):
    count = _at_my_site(count_id)
    form = CountStepForm()
    if not form.validate():
        return _count_page(count_id, step_form=form, status=422)
    if not confirmed():
        changes = tuple(
            f"Lot {line.lot_number} of {line.product_name}: {_signed(line.variance)} {line.unit}"
            for line in count.lines
            if line.variance
        )
        return confirmation_page(
            title=f"Approve count {count.reference}?",
            question=f"Approve count {count.reference} and correct the stock by its variances?",
            action="Yes, approve and correct the stock",
            cancel_url=url_for("stock_counts.count_page", count_id=count.id),
            details=changes or ("No lot differs: the stock stays as it is.",),
        )
    try:
        count = counts.approve_count(
            count_id, user=current_user._get_current_object(), now=utcnow()
        )
    except DomainError as error:
        return _count_page(count_id, step_form=form, status=show_domain_error(form, error))
    corrected = sum(1 for line in count.lines if line.variance)
    flash(
        f"Count {count.reference} approved: {corrected} lot{'' if corrected == 1 else 's'} "
        "corrected in the stock records.",
        "success",
    )
    return redirect(url_for("stock_counts.count_page", count_id=count.id))


def _signed(quantity) -> str:
    return f"+{quantity_text(quantity)}" if quantity > 0 else quantity_text(quantity)


@bp.route("/counts/<id:count_id>/cancel", methods=["POST"])
@role_page(Role.PHARMACIST)
def cancel(count_id):
    count = _at_my_site(count_id)
    form = CountStepForm()
    if not form.validate():
        return _count_page(count_id, step_form=form, status=422)
    if not confirmed():
        return confirmation_page(
            title=f"Cancel count {count.reference}?",
            question=f"Cancel count {count.reference}? Nothing of it is kept in the stock.",
            action="Yes, cancel the count",
            cancel_url=url_for("stock_counts.count_page", count_id=count.id),
        )
    try:
        count = counts.cancel_count(count_id, user=current_user._get_current_object(), now=utcnow())
    except DomainError as error:
        return _count_page(count_id, step_form=form, status=show_domain_error(form, error))
    flash(f"Count {count.reference} cancelled: the stock is unchanged.", "success")
    return redirect(url_for("stock_counts.count_list"))

"""The recall trace of a lot as its own page and as a CSV file: the batches made from the lot
and the patients treated with it or with them. Pharmacists and administrators read it, as
they read GET /api/lots/{id}/trace (SPEC 5): pharmacists from the lot page, administrators from
a patient's session that used a recalled lot; administrators, who also read patients' pages,
follow each patient's name to their page. Both answer from `clinic.recall.trace_to_patients`."""

from flask import Blueprint, Response, render_template
from flask_login import current_user

from clinic.recall import trace_csv, trace_to_patients
from core.accounts import CLINICAL_ROLES, PHARMACY_ROLES, Role
from core.sites import works_at
from web.pages import role_page

bp = Blueprint("stock_trace", __name__, url_prefix="/stock")


def can_read_patients() -> bool:
    return current_user.is_authenticated and current_user.role in CLINICAL_ROLES


def can_read_trace() -> bool:
    return current_user.is_authenticated and current_user.role in PHARMACY_ROLES


def can_see_lot(lot) -> bool:
    """Whether the lot's page opens for the signed-in pharmacist (it is at one of their
    sites)."""
    return current_user.role == Role.PHARMACIST and works_at(current_user, lot.site_id)


@bp.app_context_processor
def trace_helpers():
    return {
        "can_read_patients": can_read_patients,
        "can_read_trace": can_read_trace,
        "can_see_lot": can_see_lot,
    }


@bp.route("/lots/<id:lot_id>/trace")
@role_page(*PHARMACY_ROLES)
def trace_page(lot_id):
    return render_template("stock/trace.html", trace=trace_to_patients(lot_id))


@bp.route("/lots/<id:lot_id>/trace.csv")
@role_page(*PHARMACY_ROLES)
def trace_download(lot_id):
    trace = trace_to_patients(lot_id)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in trace.lot.lot_number)
    return Response(
        trace_csv(trace),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="recall-trace-{name}.csv"'},
    )

"""The printable aftercare sheet of a session (SPEC 3.6), in the patient's language: what the
patient does before and after a mesotherapy session, on the clinic's letterhead (CLINIC_NAME,
CLINIC_ADDRESS and CLINIC_PHONE in the configuration), with the doctor and the next planned
session."""

from flask import Blueprint, abort, current_app, render_template
from flask_babel import force_locale, format_date
from flask_login import current_user, login_required

from clinic.advice import AFTER, BEFORE
from clinic.sessions import get_session, next_planned_session, session_doctor
from core.accounts import CLINICAL_ROLES
from core.errors import NotFound

bp = Blueprint("aftercare", __name__)


@bp.app_template_filter("patient_day")
def patient_day(day) -> str:
    """A day as the patient reads it, in the patient's language: 3 Mar 2025, 3 mars 2025."""
    return format_date(day, "d MMM y")


@bp.route("/sessions/<id:session_id>/aftercare")
@login_required
def aftercare(session_id):
    if current_user.role not in CLINICAL_ROLES:
        abort(403)
    try:
        session = get_session(session_id)
    except NotFound:
        abort(404)
    day = session.performed_on or session.scheduled_date
    with force_locale(session.patient.language.value):
        return _sheet(session, day)


def _sheet(session, day):
    return render_template(
        "aftercare.html",
        session=session,
        patient=session.patient,
        serum=session.course.serum,
        day=day,
        doctor=session_doctor(session),
        next_session=next_planned_session(session.patient_id, after=day),
        clinic={
            "name": current_app.config["CLINIC_NAME"],
            "address": current_app.config["CLINIC_ADDRESS"],
            "phone": current_app.config["CLINIC_PHONE"],
        },
        before=BEFORE,
        after=AFTER,
    )

"""The printable aftercare sheet of a session (SPEC 3.6): what the patient does before and
after a mesotherapy session."""

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from clinic.sessions import get_session
from core.accounts import Role
from core.errors import NotFound

bp = Blueprint("aftercare", __name__)

READERS = {Role.DOCTOR, Role.ADMIN}

BEFORE = (
    "Limit aspirin and other blood thinners before the session (ask your doctor first if they "
    "were prescribed to you): they raise the risk of bruising.",
    "Wash your hair the day before or on the morning of the session.",
)
AFTER = (
    "Do not wash your hair (no shampoo) for 48 hours.",
    "No swimming and no sauna for 48 hours.",
)


@bp.route("/sessions/<id:session_id>/aftercare")
@login_required
def aftercare(session_id):
    if current_user.role not in READERS:
        abort(403)
    try:
        session = get_session(session_id)
    except NotFound:
        abort(404)
    return render_template(
        "aftercare.html",
        session=session,
        patient=session.patient,
        serum=session.course.serum,
        day=session.performed_on or session.scheduled_date,
        before=BEFORE,
        after=AFTER,
    )

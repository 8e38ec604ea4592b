"""Treatment courses and their sessions: planning, more maintenance sessions, completing
(screen re-run, stock consumed), cancelling, side effects (doctors write, administrators
read)."""

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.assessments import MaintenanceSchema
from api.schemas.courses import (
    CancelSchema,
    CompleteSchema,
    CourseSchema,
    MoveSchema,
    SessionQuerySchema,
    SessionSchema,
    SideEffectSchema,
)
from clinic import courses, sessions
from clinic.patients import get_patient
from core.accounts import CLINICAL_ROLES, Role
from core.clock import clinic_today, utcnow
from core.sites import require_site, site_for_new_record, sites_listed

blp = Blueprint(
    "courses", __name__, url_prefix="/api", description="Treatment courses and sessions."
)


@blp.route("/patients/<id:patient_id>/courses", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, CourseSchema(many=True))
@blp.paginate(**PAGINATION)
def list_courses(patient_id, pagination_parameters):
    """The patient's courses, newest first, each with its sessions."""
    get_patient(patient_id)
    return paginate(courses.courses_query(patient_id), pagination_parameters)


@blp.route("/patients/<id:patient_id>/courses", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(CourseSchema)
@blp.response(201, CourseSchema)
def plan_course(fields, patient_id):
    """Plan a course at a site (`site_id`; default the doctor's only site, a 422 naming it when
    they work at several); a serum the patient's screen contraindicates is refused (409)."""
    doctor = current_api_user()
    site = site_for_new_record(doctor, fields.get("site_id"))
    return courses.plan_course(
        get_patient(patient_id),
        fields["serum_id"],
        start_date=fields["start_date"],
        induction_sessions=fields["induction_sessions"],
        maintenance_months=fields["maintenance_months"],
        doctor=doctor,
        doses_per_session=fields["doses_per_session"],
        indication=fields["indication"],
        site_id=site.id,
    )


@blp.route("/courses/<id:course_id>/maintenance", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(MaintenanceSchema)
@blp.response(200, CourseSchema)
def add_maintenance_sessions(fields, course_id):
    """More monthly maintenance sessions, after the course's last one (or after today); refused
    once the review stopped the course or changed its serum (409). Answers the course."""
    course = courses.get_course(course_id, lock=True)
    courses.add_maintenance_sessions(course, fields["sessions"], as_of=clinic_today())
    return course


@blp.route("/sessions", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.arguments(SessionQuerySchema, location="query")
@blp.response(200, SessionSchema(many=True))
@blp.paginate(**PAGINATION)
def list_sessions(filters, pagination_parameters):
    """Sessions by scheduled date; `from` and `to` are inclusive. Those of `site_id` (403 at a
    site the user does not work at), else of every site the user works at."""
    site_ids = sites_listed(current_api_user(), filters.get("site_id"))
    stmt = sessions.sessions_query(
        filters.get("patient_id"), filters.get("first"), last=filters.get("last"),
        site_ids=site_ids,
    )  # fmt: skip
    return paginate(stmt, pagination_parameters)


@blp.route("/sessions/<id:session_id>", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, SessionSchema)
def get_session(session_id):
    return sessions.get_session(session_id)


@blp.route("/sessions/<id:session_id>/complete", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(CompleteSchema)
@blp.response(200, SessionSchema)
def complete_session(fields, session_id):
    """Re-runs the safety screen and consumes a serum lot of the session's site in the same
    transaction; a session at a site the doctor does not work at is a 403."""
    session = sessions.get_session(session_id, lock=True)
    require_site(current_api_user(), session.site_id)
    return sessions.complete_session(session, current_api_user(), fields=fields, now=utcnow())


@blp.route("/sessions/<id:session_id>/cancel", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(CancelSchema)
@blp.response(200, SessionSchema)
def cancel_session(fields, session_id):
    session = sessions.get_session(session_id, lock=True)
    return sessions.cancel_session(session, fields["reason"], now=utcnow())


@blp.route("/sessions/<id:session_id>/move", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(MoveSchema)
@blp.response(200, SessionSchema)
def move_session(fields, session_id):
    """Plan a planned session for another day; the patient, if reminded, is told."""
    session = sessions.get_session(session_id, lock=True)
    return sessions.move_session(session, fields["scheduled_date"], now=utcnow())


@blp.route("/sessions/<id:session_id>/side-effects", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(SideEffectSchema)
@blp.response(201, SessionSchema)
def record_side_effect(fields, session_id):
    """Answers the session with all its side effects."""
    session = sessions.get_session(session_id)
    sessions.record_side_effect(
        session,
        fields["kind"],
        severity=fields["severity"],
        note=fields["note"],
        doctor=current_api_user(),
        now=utcnow(),
    )
    return session


@blp.route(
    "/sessions/<id:session_id>/side-effects/<id:side_effect_id>/entered-in-error",
    methods=["POST"],
)
@roles_required(Role.DOCTOR)
@blp.response(200, SessionSchema)
def mark_side_effect_entered_in_error(session_id, side_effect_id):
    """Withdraw a side effect recorded by mistake: kept with who withdrew it and in the audit
    log, no longer among the session's side effects. Answers the session."""
    session = sessions.get_session(session_id)
    side_effect = sessions.get_side_effect(session, side_effect_id=side_effect_id)
    sessions.mark_side_effect_entered_in_error(side_effect, doctor=current_api_user(), now=utcnow())
    return session

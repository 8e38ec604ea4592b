"""The doctor's pages of a course's results: recording an assessment (baseline, review,
follow-up) with its scores and up to four scalp photos, the review's decision (asking first
when it cancels sessions), more maintenance sessions, and the photos themselves, served only
to doctors and administrators, by a URL that names the patient. The results are shown on the
patient page (`web.doctor.panel`)."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from clinic import assessments as assessment_rules
from clinic import courses as course_rules
from clinic.assessments import GLOBAL_ASSESSMENT_WORDS
from clinic.models import Assessment, AssessmentKind, Course, Indication, PhotoView, ReviewDecision
from core.accounts import CLINICAL_ROLES, Role
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from core.errors import DomainError, Invalid
from web.doctor.forms import (
    OUTCOMES,
    STOPPING_CHOICES,
    VIEW_WORDS,
    AssessmentForm,
    MaintenanceForm,
    decision_choices,
)
from web.doctor.panel import maintenance_prefix
from web.pages import confirmation_page, confirmed, role_page, show_domain_error

bp = Blueprint("doctor_results", __name__)

KIND_WORDS = {
    AssessmentKind.BASELINE: "baseline",
    AssessmentKind.REVIEW: "review",
    AssessmentKind.FOLLOW_UP: "follow-up",
}
VIEW_NAMES = {
    PhotoView.VERTEX: "Vertex",
    PhotoView.FRONTAL: "Frontal",
    PhotoView.LEFT: "Left side",
    PhotoView.RIGHT: "Right side",
}
INDICATION_NAMES = {
    Indication.ANDROGENETIC_ALOPECIA: "androgenetic alopecia",
    Indication.POSTPARTUM: "hair loss after pregnancy and childbirth (postpartum)",
}


@bp.app_template_filter("assessment_kind")
def assessment_kind_text(assessment: Assessment) -> str:
    return KIND_WORDS[assessment.kind]


@bp.app_template_filter("decision")
def decision_text(decision: ReviewDecision) -> str:
    return decision.words


@bp.app_template_filter("view")
def view_text(view: PhotoView) -> str:
    return VIEW_NAMES[view]


@bp.app_template_filter("indication")
def indication_text(indication: Indication) -> str:
    return INDICATION_NAMES[indication]


@bp.app_template_filter("global_assessment")
def global_assessment_text(value: int) -> str:
    """+2 better, 0 no change, -1 slightly worse."""
    return (
        f"{value:+d} {GLOBAL_ASSESSMENT_WORDS[value]}"
        if value
        else f"0 {GLOBAL_ASSESSMENT_WORDS[0]}"
    )


# Room in the form's body for its fields and part headers, beyond the four photos.
FORM_ROOM = 256 * 1024


class DecisionForm(FlaskForm):
    decision = SelectField(choices=[SelectChoice(d.value) for d in ReviewDecision])


@bp.url_value_preprocessor
def room_for_photos(endpoint, values):
    """The assessment form carries up to four photos, each up to PHOTO_MAX_BYTES: its body may
    be larger than the app's MAX_CONTENT_LENGTH. Set here, before any request hook (the CSRF
    check) reads the form."""
    if endpoint == "doctor_results.record_assessment":
        request.max_content_length = 4 * current_app.config["PHOTO_MAX_BYTES"] + FORM_ROOM


def _doctor():
    return current_user._get_current_object()


def _results_url(course: Course) -> str:
    page = url_for("doctor.patient_page", patient_id=course.patient_id)
    return f"{page}#course-{course.id}-results"


def _kind(raw: str | None) -> AssessmentKind:
    try:
        return AssessmentKind(raw)
    except ValueError:
        abort(404, description="No such kind of assessment: baseline, review or follow_up.")


def _cancels_text(day) -> str:
    return (
        f"Every session of the course still planned from {day_text(day)} on is cancelled, "
        "with this decision as the reason. This cannot be undone."
    )


def _assessment_page(course: Course, kind: AssessmentKind, form: AssessmentForm, status=200):
    if kind == AssessmentKind.REVIEW:
        form.decision.choices = decision_choices(_cancels_text(form.date.data or clinic_today()))
    earlier = db.session.scalars(assessment_rules.assessments_query(course.id)).all()
    page = render_template(
        "doctor/assessment.html",
        course=course,
        patient=course.patient,
        kind=kind,
        kind_words=KIND_WORDS[kind],
        form=form,
        outcomes=OUTCOMES,
        views=VIEW_WORDS,
        first_session=assessment_rules.first_session_day(course),
        earlier=earlier,
        results_url=_results_url(course),
    )
    return page, status


@bp.route("/courses/<id:course_id>/assessments/new")
@role_page(Role.DOCTOR)
def new_assessment(course_id):
    course = course_rules.get_course(course_id)
    kind = _kind(request.args.get("kind", AssessmentKind.BASELINE.value))
    return _assessment_page(course, kind, AssessmentForm(formdata=None))


@bp.route("/courses/<id:course_id>/assessments", methods=["POST"])
@role_page(Role.DOCTOR)
def record_assessment(course_id):
    course = course_rules.get_course(course_id, lock=True)
    kind = _kind(request.form.get("kind"))
    form = AssessmentForm()
    form.decision.choices = decision_choices("")
    if kind != AssessmentKind.REVIEW:
        form.decision.data = None
    if not form.validate():
        return _assessment_page(course, kind, form, 422)
    fields = form.fields_for_the_clinic(kind.value)
    decision = ReviewDecision(form.decision.data) if form.decision.data else None
    # A decision that cancels sessions waits for a yes: the review and its photos are recorded
    # first, then the page asks (when no script asked already).
    ask_first = decision in STOPPING_CHOICES and not confirmed()
    if decision is not None and not ask_first:
        fields["decision"] = decision
    now = utcnow()
    try:
        assessment = assessment_rules.record_assessment(
            course, fields=fields, doctor=_doctor(), now=now
        )
        for view, upload in form.photos():
            try:
                assessment_rules.add_photo(
                    assessment, upload.stream, view=view, doctor=_doctor(), now=now
                )
            except Invalid as error:
                raise Invalid({f"photo_{view.value}": error.errors.get("file", [])}) from error
    except DomainError as error:
        fields_of_form = {f"patient_scores.{name}": name for name in OUTCOMES}
        status = show_domain_error(form, error, fields=fields_of_form)
        return _assessment_page(course_rules.get_course(course_id), kind, form, status)
    photos = len(form.photos())
    recorded = (
        f"{KIND_WORDS[kind].capitalize()} of {day_text(assessment.date)} recorded"
        + (f" with {photos} photo{'s' if photos != 1 else ''}" if photos else "")
        + "."
    )
    if ask_first:
        return _ask_before_deciding(assessment, decision, recorded=recorded)
    if assessment.decision is not None:
        reason = assessment_rules.decision_reason(assessment)
        cancelled = sum(1 for s in course.sessions if s.cancelled_reason == reason)
        recorded += " " + _decided_text(decision, cancelled)
    flash(recorded, "success")
    return redirect(_results_url(course))


@bp.route("/assessments/<id:assessment_id>/decision", methods=["POST"])
@role_page(Role.DOCTOR)
def decide_review(assessment_id):
    assessment = assessment_rules.get_assessment(assessment_id)
    course = course_rules.get_course(assessment.course_id, lock=True)
    form = DecisionForm()
    if not form.validate():
        abort(400)
    decision = ReviewDecision(form.decision.data)
    if decision in STOPPING_CHOICES and not confirmed():
        return _ask_before_deciding(assessment, decision)
    try:
        cancelled = assessment_rules.decide_review(
            assessment, decision, doctor=_doctor(), now=utcnow()
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(_results_url(course))
    flash(_decided_text(decision, len(cancelled)), "success")
    return redirect(_results_url(course))


def _decided_text(decision: ReviewDecision, cancelled: int) -> str:
    said = f"Review decision: {decision.words}."
    if decision not in STOPPING_CHOICES:
        return said + " The planned maintenance sessions stay."
    return said + f" {cancelled} planned session{'s' if cancelled != 1 else ''} cancelled."


def _ask_before_deciding(assessment, decision: ReviewDecision, *, recorded: str = ""):
    course = assessment.course
    details = [_cancels_text(assessment.date)]
    if recorded:
        details.insert(0, f"{recorded} The decision is not taken yet.")
    return confirmation_page(
        title="The review's decision",
        question=f"{decision.words.capitalize()} ({course.serum.name}, {course.patient.name})?",
        action=decision.words.capitalize(),
        cancel_url=_results_url(course),
        details=tuple(details),
        action_url=url_for("doctor_results.decide_review", assessment_id=assessment.id),
        fields=[("decision", decision.value)],
    )


@bp.route("/courses/<id:course_id>/maintenance", methods=["POST"])
@role_page(Role.DOCTOR)
def add_maintenance_sessions(course_id):
    course = course_rules.get_course(course_id, lock=True)
    form = MaintenanceForm(prefix=maintenance_prefix(course_id))
    if not form.validate():
        flash(f"{form.sessions.label.text}: {' '.join(form.sessions.errors)}", "error")
        return redirect(_results_url(course))
    try:
        added = course_rules.add_maintenance_sessions(
            course, form.sessions.data, as_of=clinic_today()
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(_results_url(course))
    flash(
        f"{len(added)} monthly maintenance session{'s' if len(added) != 1 else ''} added: "
        f"{day_text(added[0].scheduled_date)} to {day_text(added[-1].scheduled_date)}.",
        "success",
    )
    return redirect(_results_url(course))


@bp.route("/patients/<id:patient_id>/photos/<id:photo_id>")
@role_page(*CLINICAL_ROLES)
def photo(patient_id, photo_id):
    """A photo of one of the patient's assessments; another patient's photo is not found."""
    found = assessment_rules.patient_photo(patient_id, photo_id)
    path = assessment_rules.photo_file(found)
    response = send_file(path, mimetype=found.media_type, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response

"""The doctor's pages: patient search, a new patient, and the patient page (allergies recorded
by any name or synonym of a substance, conditions, alopecia stage, the allergy-history
statement, and every approved serum with its verdict and reasons in plain words).
The patient page also carries the patient's courses: planning one, completing a session
(the screen re-run, a caution overridden with a reason, the serum lot consumed), cancelling a
session, side effects, and each session's aftercare sheet.
Administrators may read these pages; only doctors change anything."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select, union
from wtforms import (
    SelectChoice,
)

from clinic import allergies as allergy_rules
from clinic import courses as course_rules
from clinic import patients as patient_rules
from clinic import sessions as session_rules
from clinic.models import (
    AllergyStatus,
    ClinicalStatus,
    ConditionRule,
    Criticality,
    Patient,
    Severity,
    Sex,
    VerificationStatus,
)
from clinic.safety import screen_approved_serums
from core.accounts import CLINICAL_ROLES, Role
from core.clock import clinic_today, day_text, utcnow
from core.database import db
from core.errors import Conflict, DomainError
from formulary.models import Substance, SubstanceSynonym
from inventory.models import Lot
from web.doctor.forms import (
    AllergyCorrectionForm,
    AllergyForm,
    AllergyLinkForm,
    AllergyReviewForm,
    ContactForm,
    PatientForm,
    PatientSearchForm,
    ProfileForm,
)
from web.doctor.panel import (
    CancelForm,
    CompleteForm,
    CourseForm,
    MoveForm,
    SideEffectForm,
    SubmittedForm,
    cancel_prefix,
    complete_prefix,
    courses_panel,
    move_prefix,
    offer_sites,
    place_screen_reasons,
    side_effect_prefix,
)
from web.pages import (
    confirmation_page,
    confirmed,
    doses_text,
    page_of,
    role_page,
    show_domain_error,
)
from web.sites import site_for_the_page

bp = Blueprint("doctor", __name__)
bp.add_app_template_filter(doses_text, "doses")


@bp.route("/patients")
@role_page(*CLINICAL_ROLES)
def patients():
    return _search_page(PatientForm(formdata=None))


def _search_page(form: PatientForm, status: int = 200):
    search = PatientSearchForm(request.args)
    if search.validate():
        q, order = (search.q.data or "").strip(), search.sort.data
    else:
        # A search the list cannot run: its errors next to its fields, the list as it is.
        q, order, status = "", patient_rules.PatientOrder.NAME, 422
    stmt = patient_rules.patients_query(q, order=order)
    page = render_template(
        "doctor/patients.html", q=q, search=search, page=page_of(stmt), form=form
    )
    return page, status


@bp.route("/patients", methods=["POST"])
@role_page(Role.DOCTOR)
def new_patient():
    form = PatientForm()
    if not form.validate():
        return _search_page(form, status=422)
    try:
        patient = patient_rules.create_patient(
            {
                "mrn": form.mrn.data.strip(),
                "name": form.name.data.strip(),
                "birth_date": form.birth_date.data,
                "sex": Sex(form.sex.data),
                "alopecia_scale": form.alopecia_scale.data,
                "alopecia_stage": form.alopecia_stage.data,
            }
        )
    except DomainError as error:
        return _search_page(form, status=show_domain_error(form, error))
    flash(f"Patient {patient.name} ({patient.mrn}) added.", "success")
    return redirect(url_for("doctor.patient_page", patient_id=patient.id))


@bp.route("/patients/<id:patient_id>")
@role_page(*CLINICAL_ROLES)
def patient_page(patient_id):
    return _patient_page(patient_rules.get_patient(patient_id))


def _patient_page(
    patient: Patient,
    allergy_form: AllergyForm | None = None,
    profile_form: ProfileForm | None = None,
    contact_form: ContactForm | None = None,
    status_error: str | None = None,
    submitted: SubmittedForm | None = None,
    status: int = 200,
    recorded_allergy_id: int | None = None,
):
    rules = db.session.scalars(select(ConditionRule).order_by(ConditionRule.label)).all()
    profile_form = profile_form or _profile_form_for(patient)
    profile_form.conditions.choices = [SelectChoice(rule.code, rule.label) for rule in rules]
    screened = screen_approved_serums(patient)
    can_edit = current_user.role == Role.DOCTOR
    page = render_template(
        "doctor/patient.html",
        patient=patient,
        stage=patient_rules.STAGE_NAMES.get(patient.alopecia_stage),
        rules={rule.code: rule for rule in rules},
        screened=screened,
        allergy_form=allergy_form or AllergyForm(formdata=None),
        profile_form=profile_form,
        contact_form=contact_form or _contact_form_for(patient),
        status_error=status_error,
        recorded_allergy=next((a for a in patient.allergies if a.id == recorded_allergy_id), None),
        substance_names=_substance_names() if can_edit else [],
        can_edit=can_edit,
        panel=courses_panel(patient, screened, clinic_today(), can_edit, submitted),
    )
    return page, status


def _profile_form_for(patient: Patient) -> ProfileForm:
    return ProfileForm(
        formdata=None,
        prefix=ProfileForm.PREFIX,
        alopecia_scale=patient.alopecia_scale.value if patient.alopecia_scale else None,
        alopecia_stage=patient_rules.STAGE_NAMES.get(patient.alopecia_stage),
        conditions=[c.code for c in patient.conditions if c.active],
    )


def _substance_names() -> list[str]:
    """Every name and synonym of the catalogue, for the substance picker's suggestions."""
    names = union(select(Substance.name), select(SubstanceSynonym.name)).subquery()
    return list(db.session.scalars(select(names.c[0]).order_by(names.c[0])))


@bp.route("/patients/<id:patient_id>/allergies", methods=["POST"])
@role_page(Role.DOCTOR)
def record_allergy(patient_id):
    patient = patient_rules.get_patient(patient_id)
    form = AllergyForm()
    if not form.validate():
        return _patient_page(patient, allergy_form=form, status=422)
    named = form.substance.data.strip()
    try:
        allergy = allergy_rules.record_given_allergy(
            patient,
            {
                "text" if form.outside_catalogue.data else "substance": named,
                "criticality": Criticality(form.criticality.data),
                "verification_status": VerificationStatus(form.verification_status.data),
                "clinical_status": ClinicalStatus(form.clinical_status.data),
                "reaction": form.reaction.data or None,
                "severity": Severity(form.severity.data) if form.severity.data else None,
            },
        )
    except DomainError as error:
        status = show_domain_error(
            form, error, fields={"substance_id": "substance", "text": "substance"}
        )
        recorded = error.details.get("allergy_id") if isinstance(error, Conflict) else None
        return _patient_page(
            patient, allergy_form=form, status=status, recorded_allergy_id=recorded
        )
    alias = "" if named.casefold() == allergy.allergen.casefold() else f" (recorded as {named!r})"
    caution = (
        " It is not in the catalogue: every serum is a caution for this patient until you "
        "review it."
        if allergy.unscreened
        else ""
    )
    flash(f"Allergy to {allergy.allergen}{alias} recorded.{caution}", "success")
    return redirect(url_for("doctor.patient_page", patient_id=patient.id) + "#serums")


@bp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>")
@role_page(Role.DOCTOR)
def allergy_page(patient_id, allergy_id):
    patient = patient_rules.get_patient(patient_id)
    allergy = allergy_rules.get_allergy(patient, allergy_id=allergy_id)
    return _allergy_page(patient, allergy, _correction_form_for(allergy))


def _allergy_page(
    patient,
    allergy,
    form: AllergyCorrectionForm,
    status: int = 200,
    link_form: AllergyLinkForm | None = None,
):
    page = render_template(
        "doctor/allergy.html",
        patient=patient,
        allergy=allergy,
        form=form,
        link_form=link_form or AllergyLinkForm(formdata=None, prefix=AllergyLinkForm.PREFIX),
        review_form=AllergyReviewForm(formdata=None, prefix=AllergyReviewForm.PREFIX),
        substance_names=_substance_names() if allergy.substance_id is None else [],
    )
    return page, status


def _correction_form_for(allergy) -> AllergyCorrectionForm:
    return AllergyCorrectionForm(
        formdata=None,
        criticality=allergy.criticality.value,
        verification_status=allergy.verification_status.value,
        clinical_status=allergy.clinical_status.value,
        severity=allergy.severity.value if allergy.severity else None,
        reaction=allergy.reaction,
    )


@bp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>/link", methods=["POST"])
@role_page(Role.DOCTOR)
def link_allergy(patient_id, allergy_id):
    patient = patient_rules.get_patient(patient_id)
    allergy = allergy_rules.get_allergy(patient, allergy_id=allergy_id)
    form = AllergyLinkForm(prefix=AllergyLinkForm.PREFIX)
    if not form.validate():
        return _allergy_page(patient, allergy, _correction_form_for(allergy), 422, form)
    try:
        substance = allergy_rules.resolve_substance(name=form.substance.data)
        allergy_rules.correct_allergy(allergy, {"substance_id": substance.id}, reviewer=_doctor())
    except DomainError as error:
        status = show_domain_error(form, error, fields={"substance_id": "substance"})
        allergy = allergy_rules.get_allergy(patient_rules.get_patient(patient_id), allergy_id)
        return _allergy_page(patient, allergy, _correction_form_for(allergy), status, form)
    flash(
        f"{allergy.text} is now recorded as an allergy to {substance.name}: the screen checks "
        "every serum against it.",
        "success",
    )
    return redirect(url_for("doctor.patient_page", patient_id=patient.id) + "#serums")


@bp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>/review", methods=["POST"])
@role_page(Role.DOCTOR)
def review_allergy(patient_id, allergy_id):
    patient = patient_rules.get_patient(patient_id)
    allergy = allergy_rules.get_allergy(patient, allergy_id=allergy_id)
    form = AllergyReviewForm(prefix=AllergyReviewForm.PREFIX)
    if not form.validate():
        abort(400)
    reviewed = request.form.get("reviewed") != "no"
    try:
        allergy_rules.correct_allergy(
            allergy, {"reviewed_not_relevant": reviewed}, reviewer=_doctor()
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(
            url_for("doctor.allergy_page", patient_id=patient.id, allergy_id=allergy_id)
        )
    if reviewed:
        message = (
            f"{allergy.text}: reviewed as not relevant to serum components; its caution is lifted."
        )
    else:
        message = f"{allergy.text}: the review is withdrawn; every serum is a caution again."
    flash(message, "success")
    return redirect(url_for("doctor.patient_page", patient_id=patient.id) + "#serums")


@bp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>", methods=["POST"])
@role_page(Role.DOCTOR)
def correct_allergy(patient_id, allergy_id):
    patient = patient_rules.get_patient(patient_id)
    allergy = allergy_rules.get_allergy(patient, allergy_id=allergy_id)
    form = AllergyCorrectionForm()
    if not form.validate():
        return _allergy_page(patient, allergy, form, status=422)
    try:
        allergy_rules.correct_allergy(allergy, form.changes(), reviewer=_doctor())
    except DomainError as error:
        status = show_domain_error(form, error)
        patient = patient_rules.get_patient(patient_id)
        allergy = allergy_rules.get_allergy(patient, allergy_id=allergy_id)
        return _allergy_page(patient, allergy, form, status=status)
    verification = allergy.verification_status.value.replace("-", " ")
    weighs = "it weighs on the screen" if allergy.counts else "it no longer weighs on the screen"
    flash(
        f"Allergy to {allergy.allergen} corrected: {verification}, "
        f"{allergy.clinical_status.value}; {weighs}.",
        "success",
    )
    return redirect(url_for("doctor.patient_page", patient_id=patient.id) + "#serums")


@bp.route("/patients/<id:patient_id>/profile", methods=["POST"])
@role_page(Role.DOCTOR)
def update_profile(patient_id):
    patient = patient_rules.get_patient(patient_id)
    form = ProfileForm(prefix=ProfileForm.PREFIX)
    form.conditions.choices = list(
        map(SelectChoice, db.session.scalars(select(ConditionRule.code)))
    )
    if not form.validate():
        return _patient_page(patient, profile_form=form, status=422)
    conditions = [{"code": code} for code in form.conditions.data]
    try:
        patient_rules.update_patient(
            patient,
            {
                "alopecia_scale": form.alopecia_scale.data,
                "alopecia_stage": form.alopecia_stage.data,
                "conditions": conditions,
            },
        )
    except DomainError as error:
        status = show_domain_error(form, error)
        patient = patient_rules.get_patient(patient_id)
        return _patient_page(patient, profile_form=form, status=status)
    flash("Stage and conditions saved.", "success")
    return redirect(url_for("doctor.patient_page", patient_id=patient.id))


def _contact_form_for(patient: Patient) -> ContactForm:
    return ContactForm(
        formdata=None,
        prefix=ContactForm.PREFIX,
        email=patient.email,
        phone=patient.phone,
        language=patient.language.value,
        contact_consent=patient.contact_consent_at is not None,
    )


@bp.route("/patients/<id:patient_id>/contact", methods=["POST"])
@role_page(Role.DOCTOR)
def update_contact(patient_id):
    patient = patient_rules.get_patient(patient_id)
    form = ContactForm(prefix=ContactForm.PREFIX)
    if not form.validate():
        return _patient_page(patient, contact_form=form, status=422)
    try:
        patient_rules.update_patient(
            patient,
            {
                "email": form.email.data,
                "phone": form.phone.data,
                "language": form.language.data,
                "contact_consent": {"given": form.contact_consent.data},
            },
            recorded_by=_doctor(),
            now=utcnow(),
        )
    except DomainError as error:
        status = show_domain_error(form, error)
        patient = patient_rules.get_patient(patient_id)
        return _patient_page(patient, contact_form=form, status=status)
    flash("Contact details saved.", "success")
    return redirect(url_for("doctor.patient_page", patient_id=patient.id))


@bp.route("/patients/<id:patient_id>/no-known-allergies", methods=["POST"])
@role_page(Role.DOCTOR)
def no_known_allergies(patient_id):
    patient = patient_rules.get_patient(patient_id)
    try:
        patient_rules.state_allergy_status(patient, AllergyStatus.NO_KNOWN_ALLERGIES)
        db.session.flush()
    except DomainError as error:
        db.session.rollback()
        status = 409
        return _patient_page(patient, status_error=error.message, status=status)
    flash("Allergy history taken: no known allergies.", "success")
    return redirect(url_for("doctor.patient_page", patient_id=patient.id))


# --- courses and sessions ---------------------------------------------------------------------


def _doctor():
    """The signed-in doctor as the clinic's rules take it (not Flask-Login's proxy)."""
    return current_user._get_current_object()


def _to_session(session, anchor: str = "") -> str:
    page = url_for("doctor.patient_page", patient_id=session.patient_id)
    return f"{page}#{anchor or f'session-{session.id}'}"


@bp.route("/patients/<id:patient_id>/courses", methods=["POST"])
@role_page(Role.DOCTOR)
def plan_course(patient_id):
    patient = patient_rules.get_patient(patient_id)
    form = offer_sites(CourseForm(prefix=CourseForm.PREFIX))
    submitted = SubmittedForm("plan", form)
    if not form.validate():
        return _patient_page(patient, submitted=submitted, status=422)
    try:
        site_id = form.site_id.data if "site_id" in form else site_for_the_page().id
        course = course_rules.plan_course(
            patient,
            form.serum_id.data,
            start_date=form.start_date.data,
            induction_sessions=form.induction_sessions.data,
            maintenance_months=form.maintenance_months.data,
            doctor=_doctor(),
            doses_per_session=form.doses_per_session.data,
            indication=form.indication.data,
            site_id=site_id,
        )
    except DomainError as error:
        status = show_domain_error(form, error)
        place_screen_reasons(form.serum_id, error)
        return _patient_page(patient, submitted=submitted, status=status)
    first, last = course.sessions[0].scheduled_date, course.sessions[-1].scheduled_date
    flash(
        f"Course of {course.serum.name} planned: {len(course.sessions)} sessions from "
        f"{day_text(first)} to {day_text(last)}.",
        "success",
    )
    return redirect(url_for("doctor.patient_page", patient_id=patient.id) + f"#course-{course.id}")


@bp.route("/sessions/<id:session_id>/complete", methods=["POST"])
@role_page(Role.DOCTOR)
def complete_session(session_id):
    session = session_rules.get_session(session_id, lock=True)
    patient_id = session.patient_id
    form = CompleteForm(prefix=complete_prefix(session_id))
    submitted = SubmittedForm("complete", form, session_id)
    if not form.validate():
        return _session_refused(patient_id, submitted, 422)
    try:
        session_rules.complete_session(
            session, _doctor(), fields=form.fields_for_the_clinic(), now=utcnow()
        )
    except DomainError as error:
        status = show_domain_error(form, error)
        # A caution without a reason: the reasons go next to the override field; a
        # contraindication: above the form, with the message.
        if error.errors.get("override_reason"):
            place_screen_reasons(form.override_reason, error)
        else:
            form.form_errors.extend(r["message"] for r in error.details.get("reasons", []))
        return _session_refused(patient_id, submitted, status)
    lot = db.session.get(Lot, session.lot_id)
    flash(
        f"Session of {day_text(session.performed_on)} completed: "
        f"{doses_text(session.doses)} from lot {lot.lot_number}.",
        "success",
    )
    return redirect(_to_session(session))


@bp.route("/sessions/<id:session_id>/cancel", methods=["POST"])
@role_page(Role.DOCTOR)
def cancel_session(session_id):
    session = session_rules.get_session(session_id, lock=True)
    patient_id = session.patient_id
    form = CancelForm(prefix=cancel_prefix(session_id))
    submitted = SubmittedForm("cancel", form, session_id)
    if not form.validate():
        return _session_refused(patient_id, submitted, 422)
    if not confirmed():
        return confirmation_page(
            title="Cancel a session",
            question=f"Cancel the session of {day_text(session.scheduled_date)} of "
            f"{session.patient.name} ({session.course.serum.name})?",
            action="Cancel the session",
            cancel_url=_to_session(session),
            details=(
                f"Reason: {form.reason.data.strip()}" if form.reason.data else "No reason given.",
            ),
        )
    try:
        session_rules.cancel_session(session, form.reason.data, now=utcnow())
    except DomainError as error:
        return _session_refused(patient_id, submitted, show_domain_error(form, error))
    flash(f"Session of {day_text(session.scheduled_date)} cancelled.", "success")
    return redirect(_to_session(session))


@bp.route("/sessions/<id:session_id>/move", methods=["POST"])
@role_page(Role.DOCTOR)
def move_session(session_id):
    """Another day for a planned session; a patient already reminded is sent a correction."""
    session = session_rules.get_session(session_id, lock=True)
    patient_id = session.patient_id
    form = MoveForm(prefix=move_prefix(session_id))
    submitted = SubmittedForm("move", form, session_id)
    if not form.validate():
        return _session_refused(patient_id, submitted, 422)
    old_day = session.scheduled_date
    try:
        session_rules.move_session(session, form.scheduled_date.data, now=utcnow())
    except DomainError as error:
        return _session_refused(patient_id, submitted, show_domain_error(form, error))
    flash(f"Session of {day_text(old_day)} moved to {day_text(session.scheduled_date)}.", "success")
    return redirect(_to_session(session))


@bp.route("/sessions/<id:session_id>/side-effects", methods=["POST"])
@role_page(Role.DOCTOR)
def record_side_effect(session_id):
    session = session_rules.get_session(session_id)
    patient_id = session.patient_id
    form = SideEffectForm(prefix=side_effect_prefix(session_id))
    submitted = SubmittedForm("side_effect", form, session_id)
    if not form.validate():
        return _session_refused(patient_id, submitted, 422)
    try:
        effect = session_rules.record_side_effect(
            session, form.kind.data, severity=form.severity.data,
            note=form.note.data or None, doctor=_doctor(), now=utcnow(),
        )  # fmt: skip
    except DomainError as error:
        return _session_refused(patient_id, submitted, show_domain_error(form, error))
    flash(f"Side effect recorded: {side_effect_text(effect)}.", "success")
    return redirect(_to_session(session))


@bp.route(
    "/sessions/<id:session_id>/side-effects/<id:side_effect_id>/entered-in-error",
    methods=["POST"],
)
@role_page(Role.DOCTOR)
def withdraw_side_effect(session_id, side_effect_id):
    session = session_rules.get_session(session_id)
    try:
        effect = session_rules.get_side_effect(session, side_effect_id=side_effect_id)
    except DomainError as error:  # withdrawn meanwhile (a second click)
        flash(error.message, "error")
        return redirect(_to_session(session))
    day = day_text(session.performed_on or session.scheduled_date)
    if not confirmed():
        return confirmation_page(
            title="Withdraw a side effect",
            question=f"Mark the side effect “{side_effect_text(effect)}” of the session of {day} "
            "as entered in error?",
            action="Mark as entered in error",
            cancel_url=_to_session(session),
            details=(
                "Only for a side effect recorded by mistake: it will no longer be shown on "
                f"{session.patient.name}'s record. The audit log keeps it.",
            ),
        )
    session_rules.mark_side_effect_entered_in_error(effect, doctor=_doctor(), now=utcnow())
    flash(
        f"Side effect “{side_effect_text(effect)}” of the session of {day} marked entered in "
        "error: it is no longer shown.",
        "success",
    )
    return redirect(_to_session(session))


def side_effect_text(effect) -> str:
    """A side effect as the record reads it: hematoma (mild)."""
    return f"{effect.kind.value.replace('_', ' ')} ({effect.severity.value})"


bp.add_app_template_filter(side_effect_text, "side_effect")


def _session_refused(patient_id: int, submitted: SubmittedForm, status: int):
    return _patient_page(patient_rules.get_patient(patient_id), submitted=submitted, status=status)

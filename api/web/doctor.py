"""The doctor's pages: patient search, a new patient, and the patient page (allergies recorded
by any name or synonym of a substance, conditions, alopecia stage, the allergy-history
statement, and every approved serum with its verdict and reasons in plain words).
Administrators may read these pages; only doctors change anything."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select, union
from wtforms import (
    DateField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional

from api.web.pages import page_of, role_page, show_domain_error
from clinic import allergies as allergy_rules
from clinic import patients as patient_rules
from clinic.models import (
    AllergyStatus,
    AlopeciaScale,
    ClinicalStatus,
    ConditionRule,
    Criticality,
    Patient,
    Severity,
    Sex,
    VerificationStatus,
)
from clinic.safety import screen_approved_serums
from core.accounts import Role
from core.database import db
from core.errors import DomainError
from formulary.models import Substance, SubstanceSynonym

bp = Blueprint("doctor", __name__)

READERS = (Role.DOCTOR, Role.ADMIN)
SCALE_CHOICES = [
    SelectChoice("", "Not assessed"),
    *(SelectChoice(scale.value, scale.value.capitalize()) for scale in AlopeciaScale),
]
STAGE_CHOICES = [SelectChoice("", "—"), *map(SelectChoice, patient_rules.ROMAN_STAGES)]


def _choices(enum_class, blank: str | None = None) -> list[SelectChoice]:
    options = [SelectChoice(member.value, member.value.replace("-", " ")) for member in enum_class]
    return [SelectChoice("", blank), *options] if blank is not None else options


def _blank_is_none(value):
    return value or None


class PatientForm(FlaskForm):
    mrn = StringField("Medical record number", validators=[DataRequired(), Length(max=40)])
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    birth_date = DateField("Birth date", validators=[Optional()])
    sex = SelectField("Sex", choices=_choices(Sex))
    alopecia_scale = SelectField("Alopecia scale", choices=SCALE_CHOICES, coerce=_blank_is_none)
    alopecia_stage = SelectField("Stage", choices=STAGE_CHOICES, coerce=_blank_is_none)


class AllergyForm(FlaskForm):
    substance = StringField(
        "Substance",
        validators=[DataRequired(message="Name the substance.")],
        description='Any name or synonym from the catalogue ("Novocain", "B12").',
    )
    criticality = SelectField("Criticality", choices=_choices(Criticality), default="low")
    verification_status = SelectField(
        "Verification", choices=_choices(VerificationStatus), default="confirmed"
    )
    clinical_status = SelectField("Clinical status", choices=_choices(ClinicalStatus))
    reaction = StringField("Reaction (optional)", validators=[Optional(), Length(max=200)])
    severity = SelectField(
        "Severity", choices=_choices(Severity, blank="not stated"), coerce=_blank_is_none
    )


class ProfileForm(FlaskForm):
    PREFIX = "profile"  # it shares the patient page with the allergy form
    alopecia_scale = SelectField("Alopecia scale", choices=SCALE_CHOICES, coerce=_blank_is_none)
    alopecia_stage = SelectField("Stage", choices=STAGE_CHOICES, coerce=_blank_is_none)
    conditions = SelectMultipleField(
        "Active conditions",
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validate_choice=True,
    )


@bp.route("/patients")
@role_page(*READERS)
def patients():
    return _search_page(PatientForm(formdata=None))


def _search_page(form: PatientForm, status: int = 200):
    q = request.args.get("q", "").strip()
    stmt = select(Patient).order_by(Patient.name, Patient.id)
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(or_(Patient.name.ilike(pattern), Patient.mrn.ilike(pattern)))
    return render_template("doctor/patients.html", q=q, page=page_of(stmt), form=form), status


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
@role_page(*READERS)
def patient_page(patient_id):
    return _patient_page(patient_rules.get_patient(patient_id))


def _patient_page(
    patient: Patient,
    allergy_form: AllergyForm | None = None,
    profile_form: ProfileForm | None = None,
    status_error: str | None = None,
    status: int = 200,
):
    rules = db.session.scalars(select(ConditionRule).order_by(ConditionRule.label)).all()
    profile_form = profile_form or _profile_form_for(patient)
    profile_form.conditions.choices = [SelectChoice(rule.code, rule.label) for rule in rules]
    page = render_template(
        "doctor/patient.html",
        patient=patient,
        stage=patient_rules.STAGE_NAMES.get(patient.alopecia_stage),
        rules={rule.code: rule for rule in rules},
        screened=screen_approved_serums(patient),
        allergy_form=allergy_form or AllergyForm(formdata=None),
        profile_form=profile_form,
        status_error=status_error,
        substance_names=_substance_names() if current_user.role == Role.DOCTOR else [],
        can_edit=current_user.role == Role.DOCTOR,
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
    try:
        substance = allergy_rules.resolve_substance(name=form.substance.data)
        allergy = allergy_rules.record_allergy(
            patient,
            substance,
            {
                "criticality": Criticality(form.criticality.data),
                "verification_status": VerificationStatus(form.verification_status.data),
                "clinical_status": ClinicalStatus(form.clinical_status.data),
                "reaction": form.reaction.data or None,
                "severity": Severity(form.severity.data) if form.severity.data else None,
            },
        )
    except DomainError as error:
        status = show_domain_error(form, error, fields={"substance_id": "substance"})
        return _patient_page(patient, allergy_form=form, status=status)
    named = form.substance.data.strip()
    alias = "" if named.casefold() == substance.name.casefold() else f" (recorded as {named!r})"
    flash(f"Allergy to {allergy.substance.name}{alias} recorded.", "success")
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
    checked = set(form.conditions.data)
    # An unticked condition the patient had stays on record as inactive, not deleted.
    known = {c.code for c in patient.conditions}
    conditions = [{"code": code, "active": code in checked} for code in sorted(known | checked)]
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

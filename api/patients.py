"""Patients, their allergies, the safety screen and FHIR allergy exchange (doctors write,
administrators read)."""

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from api.auth import roles_required
from api.pagination import PAGINATION, id_field, paginate, paginate_list
from clinic import allergies as allergy_rules
from clinic import fhir, patients
from clinic.models import (
    AllergyStatus,
    AlopeciaScale,
    ClinicalStatus,
    Criticality,
    Patient,
    Severity,
    Sex,
    VerificationStatus,
)
from clinic.safety import screen_approved_serums, screen_patient_serum
from core.accounts import Role
from core.clock import clinic_today
from core.database import db
from core.errors import NotFound
from formulary.models import Serum
from formulary.screen import Verdict

blp = Blueprint(
    "patients", __name__, url_prefix="/api", description="Patients, allergies, safety screen."
)

READERS = (Role.DOCTOR, Role.ADMIN)
CONDITION_CODE = ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,59}$", error="Use a lower-case code.")


class StageField(ma.fields.Field):
    """A stage reads as its Roman numeral ("IV"); a Roman numeral or a number is accepted and
    checked against the patient's scale by the domain."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else patients.STAGE_NAMES[value]

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ma.ValidationError("A Roman numeral (I to VII) or a whole number.")
        return value


class ConditionSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=CONDITION_CODE)
    active = ma.fields.Boolean(load_default=True)


class PatientSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    mrn = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    birth_date = ma.fields.Date(allow_none=True)
    sex = ma.fields.Enum(Sex, by_value=True, required=True)
    alopecia_scale = ma.fields.Enum(AlopeciaScale, by_value=True, allow_none=True)
    alopecia_stage = StageField(allow_none=True)
    allergy_status = ma.fields.Enum(AllergyStatus, by_value=True, dump_only=True)
    conditions = ma.fields.List(ma.fields.Nested(ConditionSchema))

    @ma.validates("birth_date")
    def birth_date_not_in_future(self, value, **kwargs):
        if value is not None and value > clinic_today():
            raise ma.ValidationError("Cannot be in the future.")


class PatientUpdateSchema(PatientSchema):
    mrn = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=160))
    sex = ma.fields.Enum(Sex, by_value=True)
    allergy_status = ma.fields.Enum(AllergyStatus, by_value=True)


class PatientQuerySchema(ma.Schema):
    q = ma.fields.String(metadata={"description": "Part of the name or the MRN."})


class AllergySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    substance_id = ma.fields.Integer()
    substance = ma.fields.Function(
        lambda allergy: allergy.substance.name,
        deserialize=lambda name: name,
        metadata={"description": 'Name or synonym, any case ("Novocain").'},
    )
    criticality = ma.fields.Enum(Criticality, by_value=True, load_default=None)
    verification_status = ma.fields.Enum(VerificationStatus, by_value=True, load_default=None)
    clinical_status = ma.fields.Enum(ClinicalStatus, by_value=True, load_default=None)
    reaction = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    severity = ma.fields.Enum(Severity, by_value=True, allow_none=True)
    note = ma.fields.String(allow_none=True)


class AllergyUpdateSchema(ma.Schema):
    criticality = ma.fields.Enum(Criticality, by_value=True)
    verification_status = ma.fields.Enum(VerificationStatus, by_value=True)
    clinical_status = ma.fields.Enum(ClinicalStatus, by_value=True)
    reaction = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    severity = ma.fields.Enum(Severity, by_value=True, allow_none=True)
    note = ma.fields.String(allow_none=True)


class ReasonSchema(ma.Schema):
    kind = ma.fields.String()
    verdict = ma.fields.String()
    component = ma.fields.String(allow_none=True)
    subject = ma.fields.String(allow_none=True)
    path = ma.fields.List(ma.fields.String())
    message = ma.fields.String()
    allergy_id = ma.fields.Integer(allow_none=True)
    condition = ma.fields.String(allow_none=True)


class ScreenSchema(ma.Schema):
    verdict = ma.fields.String()
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))


class SerumRefSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    version = ma.fields.Integer()


class ScreenedSerumSchema(ma.Schema):
    serum = ma.fields.Nested(SerumRefSchema)
    verdict = ma.fields.Function(lambda s: s.screen.verdict.value)
    reasons = ma.fields.Function(lambda s: [r.as_dict() for r in s.screen.reasons])


class SafetyQuerySchema(ma.Schema):
    serum_id = id_field(required=True)


class SerumListQuerySchema(ma.Schema):
    verdict = ma.fields.Enum(Verdict, by_value=True)


class FhirBundleSchema(ma.Schema):
    """A FHIR R4 Bundle of AllergyIntolerance; validated in full by fhir.resources."""

    class Meta:
        unknown = ma.INCLUDE

    resourceType = ma.fields.String(required=True)


@blp.route("/patients", methods=["GET"])
@roles_required(*READERS)
@blp.arguments(PatientQuerySchema, location="query")
@blp.response(200, PatientSchema(many=True))
@blp.paginate(**PAGINATION)
def list_patients(filters, pagination_parameters):
    stmt = (
        select(Patient).options(selectinload(Patient.conditions)).order_by(Patient.name, Patient.id)
    )
    if filters.get("q"):
        pattern = f"%{filters['q'].strip()}%"
        stmt = stmt.where(or_(Patient.name.ilike(pattern), Patient.mrn.ilike(pattern)))
    return paginate(stmt, pagination_parameters)


@blp.route("/patients", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(PatientSchema)
@blp.response(201, PatientSchema)
def create_patient(fields):
    return patients.create_patient(fields)


@blp.route("/patients/<id:patient_id>", methods=["GET"])
@roles_required(*READERS)
@blp.response(200, PatientSchema)
def get_patient(patient_id):
    return patients.get_patient(patient_id)


@blp.route("/patients/<id:patient_id>", methods=["PATCH"])
@roles_required(Role.DOCTOR)
@blp.arguments(PatientUpdateSchema)
@blp.response(200, PatientSchema)
def update_patient(changes, patient_id):
    return patients.update_patient(patients.get_patient(patient_id), changes)


@blp.route("/patients/<id:patient_id>/allergies", methods=["GET"])
@roles_required(*READERS)
@blp.response(200, AllergySchema(many=True))
def list_allergies(patient_id):
    return patients.get_patient(patient_id).allergies


@blp.route("/patients/<id:patient_id>/allergies", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(AllergySchema)
@blp.response(201, AllergySchema)
def record_allergy(fields, patient_id):
    patient = patients.get_patient(patient_id)
    substance = allergy_rules.resolve_substance(
        substance_id=fields.pop("substance_id", None), name=fields.pop("substance", None)
    )
    return allergy_rules.record_allergy(patient, substance, fields)


@blp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>", methods=["PATCH"])
@roles_required(Role.DOCTOR)
@blp.arguments(AllergyUpdateSchema)
@blp.response(200, AllergySchema)
def update_allergy(changes, patient_id, allergy_id):
    allergy = allergy_rules.get_allergy(patients.get_patient(patient_id), allergy_id)
    return allergy_rules.update_allergy(allergy, changes)


@blp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>", methods=["DELETE"])
@roles_required(Role.DOCTOR)
@blp.response(204)
def delete_allergy(patient_id, allergy_id):
    allergy_rules.delete_allergy(
        allergy_rules.get_allergy(patients.get_patient(patient_id), allergy_id)
    )


@blp.route("/patients/<id:patient_id>/safety", methods=["GET"])
@roles_required(*READERS)
@blp.arguments(SafetyQuerySchema, location="query")
@blp.response(200, ScreenSchema)
def safety(query, patient_id):
    patient = patients.get_patient(patient_id)
    serum = db.session.get(Serum, query["serum_id"])
    if serum is None:
        raise NotFound(f"No serum with id {query['serum_id']}.")
    return screen_patient_serum(patient, serum).as_dict()


@blp.route("/patients/<id:patient_id>/serums", methods=["GET"])
@roles_required(*READERS)
@blp.arguments(SerumListQuerySchema, location="query")
@blp.response(200, ScreenedSerumSchema(many=True))
@blp.paginate(**PAGINATION)
def screened_serums(query, patient_id, pagination_parameters):
    """Every approved serum with its verdict for this patient, safest first."""
    screened = screen_approved_serums(patients.get_patient(patient_id), query.get("verdict"))
    return paginate_list(screened, pagination_parameters)


@blp.route("/patients/<id:patient_id>/fhir/allergies", methods=["GET"])
@roles_required(*READERS)
@blp.response(200)
def export_fhir_allergies(patient_id):
    return fhir.export_allergies(patients.get_patient(patient_id))


@blp.route("/patients/<id:patient_id>/fhir/allergies", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(FhirBundleSchema)
@blp.response(200)
def import_fhir_allergies(document, patient_id):
    patient = patients.get_patient(patient_id)
    fhir.import_allergies(patient, document)
    return fhir.export_allergies(patient)

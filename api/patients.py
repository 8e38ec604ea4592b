"""Patients, their allergies, the safety screen and FHIR allergy exchange (doctors write,
administrators read)."""

from sqlalchemy.orm import selectinload

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate, paginate_list
from api.schemas.patients import (
    AllergySchema,
    AllergyUpdateSchema,
    FhirBundleSchema,
    PatientQuerySchema,
    PatientSchema,
    PatientUpdateSchema,
    SafetyQuerySchema,
    ScreenedSerumSchema,
    ScreenSchema,
    SerumListQuerySchema,
)
from clinic import allergies as allergy_rules
from clinic import fhir, patients
from clinic.models import (
    Patient,
)
from clinic.safety import screen_approved_serums, screen_patient_serum
from core.accounts import CLINICAL_ROLES, Role
from formulary.serums import get_serum

blp = Blueprint(
    "patients", __name__, url_prefix="/api", description="Patients, allergies, safety screen."
)


@blp.route("/patients", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.arguments(PatientQuerySchema, location="query")
@blp.response(200, PatientSchema(many=True))
@blp.paginate(**PAGINATION)
def list_patients(filters, pagination_parameters):
    stmt = patients.patients_query(filters.get("q"), order=filters["sort"])
    return paginate(stmt.options(selectinload(Patient.conditions)), pagination_parameters)


@blp.route("/patients", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(PatientSchema)
@blp.response(201, PatientSchema)
def create_patient(fields):
    return patients.create_patient(fields, recorded_by=current_api_user())


@blp.route("/patients/<id:patient_id>", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, PatientSchema)
def get_patient(patient_id):
    return patients.get_patient(patient_id)


@blp.route("/patients/<id:patient_id>", methods=["PATCH"])
@roles_required(Role.DOCTOR)
@blp.arguments(PatientUpdateSchema)
@blp.response(200, PatientSchema)
def update_patient(changes, patient_id):
    return patients.update_patient(
        patients.get_patient(patient_id), changes, recorded_by=current_api_user()
    )


@blp.route("/patients/<id:patient_id>/allergies", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, AllergySchema(many=True))
@blp.paginate(**PAGINATION)
def list_allergies(patient_id, pagination_parameters):
    patients.get_patient(patient_id)  # an unknown patient: 404, not an empty list
    return paginate(allergy_rules.allergies_query(patient_id), pagination_parameters)


@blp.route("/patients/<id:patient_id>/allergies", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(AllergySchema)
@blp.response(201, AllergySchema)
def record_allergy(fields, patient_id):
    return allergy_rules.record_given_allergy(patients.get_patient(patient_id), fields)


@blp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>", methods=["PATCH"])
@roles_required(Role.DOCTOR)
@blp.arguments(AllergyUpdateSchema)
@blp.response(200, AllergySchema)
def update_allergy(changes, patient_id, allergy_id):
    allergy = allergy_rules.get_allergy(patients.get_patient(patient_id), allergy_id)
    return allergy_rules.correct_allergy(allergy, changes, reviewer=current_api_user())


@blp.route("/patients/<id:patient_id>/allergies/<id:allergy_id>", methods=["DELETE"])
@roles_required(Role.DOCTOR)
@blp.response(204)
def delete_allergy(patient_id, allergy_id):
    allergy_rules.delete_allergy(
        allergy_rules.get_allergy(patients.get_patient(patient_id), allergy_id)
    )


@blp.route("/patients/<id:patient_id>/safety", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.arguments(SafetyQuerySchema, location="query")
@blp.response(200, ScreenSchema)
def safety(query, patient_id):
    patient = patients.get_patient(patient_id)
    serum = get_serum(query["serum_id"])  # an unknown id in the query: 404 (SPEC 4)
    return screen_patient_serum(patient, serum, indication=query.get("indication")).as_dict()


@blp.route("/patients/<id:patient_id>/serums", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.arguments(SerumListQuerySchema, location="query")
@blp.response(200, ScreenedSerumSchema(many=True))
@blp.paginate(**PAGINATION)
def screened_serums(query, patient_id, pagination_parameters):
    """Every approved serum with its verdict for this patient, safest first."""
    screened = screen_approved_serums(
        patients.get_patient(patient_id), query.get("verdict"), indication=query.get("indication")
    )
    return paginate_list(screened, pagination_parameters)


@blp.route("/patients/<id:patient_id>/fhir/allergies", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
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

"""FHIR R4 allergy exchange: a Bundle of AllergyIntolerance, exported and imported with
fhir.resources (its R4B models, whose AllergyIntolerance is R4's).

An export imports back unchanged: allergies are matched by substance, and a re-import of the
same facts writes nothing.
"""

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from clinic.allergies import record_allergy, resolve_substance, update_allergy
from clinic.models import (
    Allergy,
    ClinicalStatus,
    Criticality,
    Patient,
    Severity,
    VerificationStatus,
)
from core.database import db
from core.errors import Invalid

CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
SUBSTANCE_SYSTEM = "urn:serum-formulary:substance"
MRN_SYSTEM = "urn:serum-formulary:mrn"
# R4 needs a manifestation for a reaction; a severity recorded without one is exported with
# this text and read back as no manifestation.
UNSPECIFIED_REACTION = "unspecified reaction"


def export_allergies(patient: Patient) -> dict:
    bundle = Bundle(
        type="collection",
        entry=[
            {"fullUrl": f"AllergyIntolerance/{a.id}", "resource": _resource(patient, a)}
            for a in patient.allergies
        ],
    )
    return bundle.model_dump(mode="json", exclude_none=True)


def _resource(patient: Patient, allergy: Allergy) -> AllergyIntolerance:
    resource = {
        "id": str(allergy.id),
        "type": "allergy",
        "clinicalStatus": _concept(CLINICAL_SYSTEM, allergy.clinical_status.value),
        "verificationStatus": _concept(VERIFICATION_SYSTEM, allergy.verification_status.value),
        "criticality": allergy.criticality.value,
        "code": {
            "coding": [
                {
                    "system": SUBSTANCE_SYSTEM,
                    "code": str(allergy.substance_id),
                    "display": allergy.substance.name,
                }
            ],
            "text": allergy.substance.name,
        },
        "patient": {
            "reference": f"Patient/{patient.id}",
            "identifier": {"system": MRN_SYSTEM, "value": patient.mrn},
        },
    }
    if allergy.reaction or allergy.severity:
        reaction = {"manifestation": [{"text": allergy.reaction or UNSPECIFIED_REACTION}]}
        if allergy.severity:
            reaction["severity"] = allergy.severity.value
        resource["reaction"] = [reaction]
    if allergy.note:
        resource["note"] = [{"text": allergy.note}]
    return AllergyIntolerance(**resource)


def _concept(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def import_allergies(patient: Patient, document: dict) -> list[Allergy]:
    """Create or update one allergy per AllergyIntolerance (matched by substance). Every entry
    is checked before anything is written: one bad entry refuses the whole bundle."""
    bundle = _parse(document)
    incoming = [
        _allergy_fields(patient, index, entry) for index, entry in enumerate(bundle.entry or [])
    ]
    existing = {a.substance_id: a for a in patient.allergies}
    imported = []
    for substance, fields in incoming:
        allergy = existing.get(substance.id)
        if allergy is None:
            allergy = record_allergy(patient, substance, fields)
            existing[substance.id] = allergy
        else:
            update_allergy(allergy, fields)
        imported.append(allergy)
    db.session.flush()
    return imported


def _parse(document: dict) -> Bundle:
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise Invalid({"resourceType": ["Must be a FHIR Bundle."]})
    try:
        return Bundle.model_validate(document)
    except ValidationError as error:
        raise Invalid(
            {
                ".".join(str(part) for part in problem["loc"]): [problem["msg"]]
                for problem in error.errors()
            },
            message="Not a valid FHIR R4 Bundle.",
        ) from None


def _allergy_fields(patient: Patient, index: int, entry) -> tuple:
    where = f"entry.{index}.resource"
    resource = entry.resource
    if resource is None or resource.get_resource_type() != "AllergyIntolerance":
        raise Invalid({where: ["Only AllergyIntolerance resources can be imported."]})
    _check_patient(patient, resource, where)
    try:
        substance = _substance(resource)
    except Invalid as error:
        messages = [m for field_messages in error.errors.values() for m in field_messages]
        raise Invalid({f"{where}.code": messages}) from None
    reaction, severity = _reaction(resource, where)
    fields = {
        "criticality": _coded_value(Criticality, resource.criticality, f"{where}.criticality")
        or Criticality.UNABLE_TO_ASSESS,
        "clinical_status": _coded(ClinicalStatus, resource.clinicalStatus, CLINICAL_SYSTEM, where)
        or ClinicalStatus.ACTIVE,
        "verification_status": _coded(
            VerificationStatus, resource.verificationStatus, VERIFICATION_SYSTEM, where
        )
        or VerificationStatus.CONFIRMED,
        "reaction": reaction,
        "severity": severity,
        "note": "\n".join(n.text for n in resource.note or [] if n.text) or None,
    }
    return substance, fields


def _check_patient(patient: Patient, resource, where: str) -> None:
    reference = resource.patient
    identifier = reference.identifier if reference else None
    if identifier is not None and identifier.value and identifier.value != patient.mrn:
        raise Invalid({f"{where}.patient": [f"Is MRN {identifier.value}, not {patient.mrn}."]})


def _substance(resource):
    code = resource.code
    if code is None:
        raise Invalid({"code": ["The allergy names no substance."]})
    for coding in code.coding or []:
        if coding.system == SUBSTANCE_SYSTEM and coding.code and coding.code.isdigit():
            return resolve_substance(substance_id=int(coding.code))
    names = [code.text] + [coding.display for coding in code.coding or []]
    return resolve_substance(name=next((n for n in names if n), None))


def _reaction(resource, where: str) -> tuple:
    reactions = resource.reaction or []
    if not reactions:
        return None, None
    first = reactions[0]
    texts = [m.text or (m.coding[0].display if m.coding else None) for m in first.manifestation]
    text = ", ".join(t for t in texts if t) or None
    if text == UNSPECIFIED_REACTION:
        text = None
    return text, _coded_value(Severity, first.severity, f"{where}.reaction.0.severity")


def _coded(enum_class, concept, system: str, where: str):
    if concept is None:
        return None
    for coding in concept.coding or []:
        if coding.system in (system, None):
            return _coded_value(enum_class, coding.code, where)
    return None


def _coded_value(enum_class, value, field: str):
    if value is None:
        return None
    try:
        return enum_class(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_class)
        raise Invalid({field: [f"{value!r} is not one of {allowed}."]}) from None

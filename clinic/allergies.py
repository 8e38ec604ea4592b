"""A patient's allergies (FHIR R4 AllergyIntolerance), the substance named by id or by name,
and their corrections: criticality, severity, reaction, verification (a refuted allergy or one
entered in error no longer weighs on the screen) and clinical status."""

from sqlalchemy import select

from clinic.models import (
    Allergy,
    AllergyStatus,
    ClinicalStatus,
    Criticality,
    Patient,
    Severity,
    VerificationStatus,
)
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from formulary.models import Substance
from formulary.substances import closest_substance_names, find_substance_by_name

ALLERGY_FIELDS = ("criticality", "verification_status", "clinical_status", "reaction", "severity")


def resolve_substance(substance_id: int | None = None, name: str | None = None) -> Substance:
    """The catalogue substance an allergy names: by id, or by a name or synonym in any case
    ("Novocain" is procaine). An unknown name suggests the closest catalogue names."""
    if substance_id is not None:
        substance = db.session.get(Substance, substance_id)
        if substance is None:
            raise Invalid({"substance_id": [f"No substance with id {substance_id}."]})
        return substance
    if not name or not name.strip():
        raise Invalid({"substance": ["Name the substance (or give substance_id)."]})
    substance = find_substance_by_name(name)
    if substance is not None:
        return substance
    suggestions = closest_substance_names(name)
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    raise Invalid(
        {"substance": [f"{name!r} is not in the catalogue.{hint}"]},
        message=f"Unknown substance {name!r}.{hint}",
        suggestions=suggestions,
    )


def get_allergy(patient: Patient, allergy_id: int) -> Allergy:
    allergy = db.session.get(Allergy, allergy_id)
    if allergy is None or allergy.patient_id != patient.id:
        raise NotFound(f"Patient {patient.id} has no allergy with id {allergy_id}.")
    return allergy


def record_allergy(patient: Patient, substance: Substance, fields: dict) -> Allergy:
    existing = db.session.scalar(
        select(Allergy.id).where(
            Allergy.patient_id == patient.id, Allergy.substance_id == substance.id
        )
    )
    if existing is not None:
        raise Conflict(
            f"An allergy to {substance.name} is already recorded for this patient: correct that "
            "record instead of recording it again.",
            {"substance": ["Already recorded for this patient."]},
            allergy_id=existing,
        )
    given = {k: v for k, v in fields.items() if v is not None}
    allergy = Allergy(substance=substance, **{**given, **_checked(given)})
    patient.allergies.append(allergy)
    patient.allergy_status = AllergyStatus.RECORDED
    db.session.flush()
    return allergy


_ENUMS = {
    "criticality": Criticality,
    "verification_status": VerificationStatus,
    "clinical_status": ClinicalStatus,
    "severity": Severity,
}
_REQUIRED = ("criticality", "verification_status", "clinical_status")


def update_allergy(allergy: Allergy, changes: dict) -> Allergy:
    """Correct an allergy. Marking it entered in error says the record was a mistake, so it
    says nothing about the patient: when every allergy of the patient is entered in error, the
    allergy history is unknown again until the doctor takes it (the screen asks for caution,
    not safe). An allergy that weighs on the screen again makes the history "recorded"."""
    values = _checked(changes)
    for field, value in values.items():
        setattr(allergy, field, value)
    db.session.flush()
    _follow_allergy_history(allergy.patient)
    db.session.flush()
    return allergy


def _checked(changes: dict) -> dict:
    errors, values = {}, {}
    for field in ALLERGY_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "reaction":
            value = (value or "").strip() or None
            if value is not None and len(value) > 200:
                errors[field] = ["At most 200 characters."]
        elif value is None or value == "":
            if field in _REQUIRED:
                errors[field] = ["Choose one."]
            value = None
        else:
            try:
                value = _ENUMS[field](value)
            except ValueError:
                choices = ", ".join(member.value.replace("-", " ") for member in _ENUMS[field])
                errors[field] = [f"One of {choices}."]
        values[field] = value
    if errors:
        raise Invalid(errors)
    return values


def _follow_allergy_history(patient: Patient) -> None:
    standing = [
        a for a in patient.allergies if a.verification_status != VerificationStatus.ENTERED_IN_ERROR
    ]
    if any(a.counts for a in standing):
        patient.allergy_status = AllergyStatus.RECORDED
    elif not standing and patient.allergy_status == AllergyStatus.RECORDED:
        patient.allergy_status = AllergyStatus.UNKNOWN


def delete_allergy(allergy: Allergy) -> None:
    """For a record made by mistake; a refuted or resolved allergy is better kept and marked."""
    db.session.delete(allergy)
    db.session.flush()

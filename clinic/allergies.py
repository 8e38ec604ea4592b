"""A patient's allergies (FHIR R4 AllergyIntolerance), the substance named by id or by name."""

from sqlalchemy import select

from clinic.models import Allergy, AllergyStatus, Patient
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
            f"An allergy to {substance.name} is already recorded (id {existing}): update it.",
            {"substance": ["Already recorded for this patient."]},
            allergy_id=existing,
        )
    allergy = Allergy(substance=substance, **{k: v for k, v in fields.items() if v is not None})
    patient.allergies.append(allergy)
    patient.allergy_status = AllergyStatus.RECORDED
    db.session.flush()
    return allergy


def update_allergy(allergy: Allergy, changes: dict) -> Allergy:
    for field in ALLERGY_FIELDS:
        if field in changes:
            setattr(allergy, field, changes[field])
    db.session.flush()
    return allergy


def delete_allergy(allergy: Allergy) -> None:
    """For a record made by mistake; a refuted or resolved allergy is better kept and marked."""
    db.session.delete(allergy)
    db.session.flush()

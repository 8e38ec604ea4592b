"""A patient's allergies (FHIR R4 AllergyIntolerance), the substance named by id or by name,
and their corrections: criticality, severity, reaction, verification (a refuted allergy or one
entered in error no longer weighs on the screen) and clinical status.

An allergen outside the catalogue is recorded as an uncoded allergy (its text and codes as
received), never refused. It weighs on every serum as a caution until a doctor resolves it
once: links it to a catalogue substance, or marks it reviewed as not relevant to serum
components (kept with who and when).
"""

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from clinic.models import (
    Allergy,
    AllergyStatus,
    ClinicalStatus,
    Criticality,
    Patient,
    Severity,
    VerificationStatus,
)
from core.accounts import User
from core.clock import utcnow
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from formulary.models import Substance
from formulary.substances import closest_substance_names, find_substance_by_name

ALLERGY_FIELDS = ("criticality", "verification_status", "clinical_status", "reaction", "severity")
TEXT_LENGTH = REACTION_LENGTH = 200


def resolve_substance(substance_id: int | None = None, name: str | None = None) -> Substance:
    """The catalogue substance an allergy names: by id, or by a name or synonym in any case
    ("Novocain" is procaine). An unknown name suggests the closest catalogue names."""
    if substance_id is not None:
        substance = db.session.get(Substance, substance_id)
        if substance is None:
            raise Invalid({"substance_id": ["No such substance in the catalogue."]})
        return substance
    if not name or not name.strip():
        raise Invalid({"substance": ["Name the substance."]})
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


def allergies_query(patient_id: int) -> Select:
    """A patient's allergies in the order they were recorded, with the substance and the
    reviewer each names loaded up front (a fixed number of queries whatever their number)."""
    return (
        select(Allergy)
        .where(Allergy.patient_id == patient_id)
        .options(selectinload(Allergy.substance), selectinload(Allergy.reviewed_by))
        .order_by(Allergy.id)
    )


def get_allergy(patient: Patient, allergy_id: int) -> Allergy:
    allergy = db.session.get(Allergy, allergy_id)
    if allergy is None or allergy.patient_id != patient.id:
        raise NotFound("This patient has no such allergy.")
    return allergy


def record_given_allergy(patient: Patient, fields: dict) -> Allergy:
    """An allergy as the API's POST gives it: a catalogue substance by `substance_id` or by
    `substance` name (an unknown name is refused with the closest names), or, with neither, an
    allergen outside the catalogue described by `text` (and any `codes`)."""
    fields = dict(fields)
    substance_id, name = fields.pop("substance_id", None), fields.pop("substance", None)
    if substance_id is None and name is None and fields.get("text"):
        return record_allergy(patient, None, fields=fields)
    return record_allergy(
        patient, resolve_substance(substance_id=substance_id, name=name), fields=fields
    )


def record_allergy(patient: Patient, substance: Substance | None, *, fields: dict) -> Allergy:
    """Record an allergy to a catalogue substance, or (no substance) an uncoded allergy named
    by `fields["text"]`, with any `codes` it came with."""
    if substance is not None:
        _refuse_second_record(patient, substance)
        text = _allergen_text(fields["text"]) if fields.get("text") else None
    else:
        text = _allergen_text(fields.get("text"))
        _refuse_second_uncoded(patient, text)
    given = {k: v for k, v in fields.items() if v is not None and k in (*ALLERGY_FIELDS, "note")}
    allergy = Allergy(
        substance=substance,
        text=text,
        codes=_received_codes(fields.get("codes")),
        source_identifier=fields.get("source_identifier"),
        **{**given, **_checked(given)},
    )
    patient.allergies.append(allergy)
    patient.allergy_status = AllergyStatus.RECORDED
    db.session.flush()
    return allergy


def _refuse_second_record(patient: Patient, substance: Substance, ignore: int | None = None):
    existing = db.session.scalar(
        select(Allergy.id).where(
            Allergy.patient_id == patient.id,
            Allergy.substance_id == substance.id,
            Allergy.id != (ignore or 0),
        )
    )
    if existing is not None:
        raise Conflict(
            f"An allergy to {substance.name} is already recorded for this patient: correct that "
            "record instead of recording it again.",
            {"substance": ["Already recorded for this patient."]},
            allergy_id=existing,
        )


def _refuse_second_uncoded(patient: Patient, text: str) -> None:
    for allergy in patient.allergies:
        if allergy.substance_id is None and (allergy.text or "").casefold() == text.casefold():
            raise Conflict(
                f"An allergy to {text} is already recorded for this patient: correct that "
                "record instead of recording it again.",
                {"text": ["Already recorded for this patient."]},
                allergy_id=allergy.id,
            )


def _allergen_text(text) -> str:
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise Invalid({"substance": ["Name the substance, or describe the allergen."]})
    if len(text) > TEXT_LENGTH:
        raise Invalid({"text": [f"At most {TEXT_LENGTH} characters."]})
    return text


def _received_codes(codes) -> list[dict] | None:
    kept = []
    for coding in codes or []:
        entry = {k: str(coding[k])[:300] for k in ("system", "code", "display") if coding.get(k)}
        if entry.get("code") and entry not in kept:
            kept.append(entry)
    return kept or None


def link_allergy(allergy: Allergy, substance: Substance) -> Allergy:
    """An uncoded allergy found to be a catalogue substance: from now on the screen uses it like
    any other allergy. Its received text and codes stay, for the export."""
    _refuse_second_record(allergy.patient, substance, ignore=allergy.id)
    allergy.substance = substance
    allergy.reviewed_not_relevant_at = None
    allergy.reviewed_by = None
    db.session.flush()
    return allergy


def review_not_relevant(allergy: Allergy, *, reviewer: User, reviewed: bool = True) -> Allergy:
    """A doctor has looked at an allergen outside the catalogue and judged it irrelevant to
    serum components (a food, an antibiotic): its caution is lifted, and who and when kept."""
    if allergy.substance_id is not None:
        raise Invalid(
            {"reviewed_not_relevant": ["Only an allergy outside the catalogue is reviewed so."]}
        )
    allergy.reviewed_not_relevant_at = utcnow() if reviewed else None
    allergy.reviewed_by = reviewer if reviewed else None
    db.session.flush()
    return allergy


_ENUMS = {
    "criticality": Criticality,
    "verification_status": VerificationStatus,
    "clinical_status": ClinicalStatus,
    "severity": Severity,
}
_REQUIRED = ("criticality", "verification_status", "clinical_status")


def correct_allergy(allergy: Allergy, changes: dict, *, reviewer: User) -> Allergy:
    """One correction as the API's PATCH and the allergy page send it: linking to a substance
    (`substance_id`), marking reviewed (`reviewed_not_relevant`), and the other fields."""
    if changes.get("substance_id") is not None:
        link_allergy(allergy, resolve_substance(substance_id=changes["substance_id"]))
    if "reviewed_not_relevant" in changes:
        review_not_relevant(
            allergy, reviewer=reviewer, reviewed=bool(changes["reviewed_not_relevant"])
        )
    fields = {k: v for k, v in changes.items() if k in (*ALLERGY_FIELDS, "note")}
    return update_allergy(allergy, fields) if fields else allergy


def update_allergy(allergy: Allergy, changes: dict) -> Allergy:
    """Correct an allergy. Marking it entered in error says the record was a mistake, so it
    says nothing about the patient: when every allergy of the patient is entered in error, the
    allergy history is unknown again until the doctor takes it (the screen asks for caution,
    not safe). An allergy that weighs on the screen again makes the history "recorded"."""
    values = _checked(changes)
    if "note" in changes:
        values["note"] = (changes["note"] or "").strip() or None
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
            if value is not None and len(value) > REACTION_LENGTH:
                errors[field] = [f"At most {REACTION_LENGTH} characters."]
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

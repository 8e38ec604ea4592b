"""Patients: identity, alopecia stage, conditions and the allergy-history statement, and the
patient search the list pages and the API share."""

import enum
from datetime import datetime

from sqlalchemy import Select, or_, select

from clinic.conditions import check_condition_code
from clinic.models import (
    AllergyStatus,
    AlopeciaScale,
    Language,
    Patient,
    PatientCondition,
    Sex,
)
from clinic.reminders import withdraw_queued_reminders
from core.accounts import User
from core.clock import utcnow
from core.database import db
from core.errors import Conflict, Invalid, NotFound

STAGES_BY_SCALE = {AlopeciaScale.NORWOOD: 7, AlopeciaScale.LUDWIG: 3}
ROMAN_STAGES = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7}
STAGE_NAMES = {number: roman for roman, number in ROMAN_STAGES.items()}


class PatientOrder(enum.StrEnum):
    """The orders a patient list can be read in."""

    NAME = "name"
    MRN = "mrn"
    BORN = "born"  # oldest first; patients with no birth date last
    YOUNGEST = "youngest"
    NEWEST = "newest"  # the latest added first


_ORDERS = {
    PatientOrder.NAME: (Patient.name, Patient.id),
    PatientOrder.MRN: (Patient.mrn,),
    PatientOrder.BORN: (Patient.birth_date.asc().nulls_last(), Patient.name, Patient.id),
    PatientOrder.YOUNGEST: (Patient.birth_date.desc().nulls_last(), Patient.name, Patient.id),
    PatientOrder.NEWEST: (Patient.created_at.desc(), Patient.id.desc()),
}


def patients_query(
    q: str | None = None, *, order: PatientOrder | str = PatientOrder.NAME
) -> Select:
    """Patients whose name or medical record number contains `q` (any case), in `order`."""
    try:
        order = PatientOrder(order)
    except ValueError:
        choices = ", ".join(PatientOrder)
        raise Invalid({"sort": [f"One of {choices}."]}) from None
    stmt = select(Patient).order_by(*_ORDERS[order])
    q = (q or "").strip()
    if q:
        pattern = f"%{_escape_like(q)}%"
        stmt = stmt.where(
            or_(Patient.name.ilike(pattern, escape="\\"), Patient.mrn.ilike(pattern, escape="\\"))
        )
    return stmt


def _escape_like(text: str) -> str:
    """A typed % or _ is looked for as itself, not as a LIKE wildcard."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_patient(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return patient


def parse_stage(scale: AlopeciaScale | None, stage: str | int | None) -> int | None:
    """A stage on its scale, as its ordinal: "IV" or 4 on Norwood is 4. A stage needs its scale
    and must exist on it (Norwood I-VII, Ludwig I-III)."""
    if stage is None and scale is None:
        return None
    if stage is None or scale is None:
        missing = "alopecia_stage" if stage is None else "alopecia_scale"
        raise Invalid({missing: ["A stage and its scale go together: give both or neither."]})
    number = _stage_number(stage)
    top = STAGES_BY_SCALE[AlopeciaScale(scale)]
    if number is None or not 1 <= number <= top:
        raise Invalid(
            {"alopecia_stage": [f"{scale.capitalize()} stages run from I to {STAGE_NAMES[top]}."]}
        )
    return number


def _scale(scale: AlopeciaScale | str | None) -> AlopeciaScale | None:
    return None if scale is None else AlopeciaScale(scale)


def _stage_number(stage: str | int) -> int | None:
    if isinstance(stage, int):
        return stage
    text = str(stage).strip().upper()
    return int(text) if text.isdigit() else ROMAN_STAGES.get(text)


def create_patient(
    fields: dict, *, recorded_by: User | None = None, now: datetime | None = None
) -> Patient:
    """A new patient; `contact_consent` ({given}) in the fields is recorded as given by
    `recorded_by` at `now`."""
    _refuse_taken_mrn(fields["mrn"])
    scale = _scale(fields.get("alopecia_scale"))
    patient = Patient(
        mrn=fields["mrn"],
        name=fields["name"],
        birth_date=fields.get("birth_date"),
        sex=Sex(fields["sex"]),
        alopecia_scale=scale,
        alopecia_stage=parse_stage(scale, fields.get("alopecia_stage")),
    )
    patient.conditions = _conditions(fields.get("conditions", []))
    _change_contact(patient, fields)
    if (fields.get("contact_consent") or {}).get("given"):
        record_contact_consent(patient, given=True, by=recorded_by, now=now or utcnow())
    db.session.add(patient)
    db.session.flush()
    return patient


def _change_contact(patient: Patient, changes: dict) -> None:
    for field in ("email", "phone"):
        if field in changes:
            setattr(patient, field, (changes[field] or "").strip() or None)
    if changes.get("language") is not None:
        patient.language = Language(changes["language"])
    if patient.email is None and patient.contact_consent_at is not None:
        # An address removed takes the consent with it: a consent is to write to an address.
        record_contact_consent(patient, given=False, by=None, now=utcnow())


def record_contact_consent(
    patient: Patient, *, given: bool, by: User | None, now: datetime
) -> Patient:
    """The patient's consent to be contacted by e-mail, given (when, recorded by whom) or
    withdrawn (from then on nothing is sent). Consent needs an address to write to. Giving it
    again when it stands keeps the first record."""
    if not given:
        if patient.contact_consent_at is not None and patient.id is not None:
            withdraw_queued_reminders(patient.id)
        patient.contact_consent_at = None
        patient.contact_consent_by = None
        return patient
    if not patient.email:
        raise Invalid({"contact_consent": ["Record the patient's e-mail address first."]})
    if patient.contact_consent_at is None:
        patient.contact_consent_at = now
        patient.contact_consent_by = by
    return patient


def update_patient(
    patient: Patient, changes: dict, *, recorded_by: User | None = None, now: datetime | None = None
) -> Patient:
    """Changes to a patient; a `contact_consent` ({given}) in them is recorded as given or
    withdrawn by `recorded_by` at `now`."""
    if "mrn" in changes and changes["mrn"] != patient.mrn:
        _refuse_taken_mrn(changes["mrn"])
        patient.mrn = changes["mrn"]
    for field in ("name", "birth_date"):
        if field in changes:
            setattr(patient, field, changes[field])
    if "sex" in changes:
        patient.sex = Sex(changes["sex"])
    if "alopecia_scale" in changes or "alopecia_stage" in changes:
        scale = _scale(changes.get("alopecia_scale", patient.alopecia_scale))
        stage = changes.get("alopecia_stage", patient.alopecia_stage)
        patient.alopecia_stage = parse_stage(scale, stage)
        patient.alopecia_scale = scale
    if "conditions" in changes:
        _replace_conditions(patient, changes["conditions"])
    if "allergy_status" in changes:
        state_allergy_status(patient, changes["allergy_status"])
    _change_contact(patient, changes)
    if changes.get("contact_consent") is not None:
        record_contact_consent(
            patient,
            given=bool(changes["contact_consent"].get("given")),
            by=recorded_by,
            now=now or utcnow(),
        )
    db.session.flush()
    return patient


def state_allergy_status(patient: Patient, status: AllergyStatus | str) -> None:
    """The doctor's statement about the allergy history. "recorded" follows from recording an
    allergy; "no known allergies" cannot stand beside an active allergy."""
    status = AllergyStatus(status)
    if status == AllergyStatus.RECORDED:
        raise Invalid(
            {"allergy_status": ["Becomes 'recorded' by recording an allergy, not by a statement."]}
        )
    if status == AllergyStatus.NO_KNOWN_ALLERGIES:
        active = [a.allergen for a in patient.allergies if a.counts]
        if active:
            raise Conflict(
                "The patient has active allergies ("
                + ", ".join(active)
                + "): 'no known allergies' would contradict them. Resolve or refute them first.",
                {"allergy_status": ["Contradicts the active allergies."]},
            )
    patient.allergy_status = status


def _refuse_taken_mrn(mrn: str) -> None:
    if db.session.scalar(select(Patient.id).where(Patient.mrn == mrn)) is not None:
        raise Conflict(f"A patient with MRN {mrn!r} already exists.", {"mrn": ["Taken."]})


def _conditions(entries: list[dict]) -> list[PatientCondition]:
    codes = [check_condition_code(entry["code"], field="conditions") for entry in entries]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise Invalid({"conditions": [f"Listed more than once: {', '.join(duplicates)}."]})
    return [PatientCondition(code=e["code"], active=e.get("active", True)) for e in entries]


def _replace_conditions(patient: Patient, entries: list[dict]) -> None:
    """The conditions listed are the patient's now; one the patient had that is no longer
    listed stays on record as past (inactive), never deleted: "was on isotretinoin" matters.
    Updated in place so that the audit log shows which condition changed."""
    wanted = {c.code: c for c in _conditions(entries)}
    for existing in patient.conditions:
        listed = wanted.pop(existing.code, None)
        existing.active = listed.active if listed is not None else False
    patient.conditions.extend(wanted.values())
    patient.conditions.sort(key=lambda condition: condition.code)

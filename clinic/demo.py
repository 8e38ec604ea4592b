"""Demonstration patients for `flask seed --demo`, each showing a different side of the
safety screen, and their courses, so that the doctor's Today lists sessions from the first
start. Idempotent: a patient whose MRN exists, or who has a course, is left alone."""

from datetime import date, timedelta

from sqlalchemy import select

from clinic.allergies import record_allergy, resolve_substance
from clinic.courses import plan_course
from clinic.models import AllergyStatus, Course, Patient
from clinic.patients import create_patient
from core.accounts import User
from core.database import db
from formulary.models import Serum, SerumStatus

DEMO_PATIENTS = [
    {
        "patient": {"mrn": "DEMO-001", "name": "Carlos Mendes", "sex": "male",
                    "birth_date": date(1984, 5, 17),
                    "alopecia_scale": "norwood", "alopecia_stage": 3},
        # An ester anaesthetic allergy: the lidocaine serum (an amide) stays safe.
        "allergies": [("Novocain", {"criticality": "high", "reaction": "urticaria"})],
    },
    {
        "patient": {"mrn": "DEMO-002", "name": "Ana Souza", "sex": "female",
                    "birth_date": date(1979, 11, 2),
                    "alopecia_scale": "ludwig", "alopecia_stage": 2,
                    "conditions": [{"code": "blood_thinner_use", "active": True}]},
        "allergies": [],
        "no_known_allergies": True,
    },
    {
        "patient": {"mrn": "DEMO-003", "name": "João Lima", "sex": "male",
                    "birth_date": date(1966, 2, 28),
                    "alopecia_scale": "norwood", "alopecia_stage": 5},
        # Fish allergy: the salmon polynucleotide serum is contraindicated.
        "allergies": [("fish-derived material", {"criticality": "high"})],
    },
    {
        "patient": {"mrn": "DEMO-004", "name": "Maria Costa", "sex": "female",
                    "birth_date": date(1991, 8, 9)},
        "allergies": [("B12", {"criticality": "low", "reaction": "rash"})],
    },
]  # fmt: skip


# (patient, serum code, days from today to the first session): one session today that the
# screen clears, one in two days under caution (a blood thinner), one tomorrow.
DEMO_COURSES = [
    ("DEMO-001", "HAIR-PN", 0),
    ("DEMO-002", "HAIR-VIT-AA", 2),
    ("DEMO-004", "HAIR-LIDO", 1),
]


def seed_demo_patients() -> int:
    """Answers how many patients were added."""
    added = 0
    for demo in DEMO_PATIENTS:
        fields = demo["patient"]
        if _exists(fields["mrn"]):
            continue
        patient = create_patient(fields)
        for name, allergy in demo["allergies"]:
            record_allergy(patient, resolve_substance(name=name), fields=dict(allergy))
        if demo.get("no_known_allergies"):
            patient.allergy_status = AllergyStatus.NO_KNOWN_ALLERGIES
        added += 1
    return added


def _exists(mrn: str) -> bool:
    return db.session.scalar(select(Patient.id).where(Patient.mrn == mrn)) is not None


def seed_demo_courses(doctor: User, *, today: date) -> int:
    """Weekly induction courses for the demo patients who have none yet, starting around
    `today`. Answers how many were planned."""
    planned = 0
    for mrn, code, days in DEMO_COURSES:
        patient = db.session.scalar(select(Patient).where(Patient.mrn == mrn))
        serum_id = db.session.scalar(
            select(Serum.id).where(Serum.code == code, Serum.status == SerumStatus.APPROVED)
        )
        if patient is None or serum_id is None or _has_course(patient):
            continue
        plan_course(
            patient,
            serum_id,
            start_date=today + timedelta(days=days),
            induction_sessions=4,
            maintenance_months=2,
            doctor=doctor,
        )
        planned += 1
    return planned


def _has_course(patient: Patient) -> bool:
    return db.session.scalar(select(Course.id).where(Course.patient_id == patient.id)) is not None

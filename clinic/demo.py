"""Demonstration patients for `flask seed --demo`, each showing a different side of the
safety screen. Idempotent: a patient whose MRN exists is left alone."""

from datetime import date

from sqlalchemy import select

from clinic.allergies import record_allergy, resolve_substance
from clinic.models import AllergyStatus, Patient
from clinic.patients import create_patient
from core.database import db

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

"""Benchmark: the screened serum list against the same list without screening.

A patient with 20 allergies (substances and classes) against 5,000 approved serums of 8
components each, on a catalogue of 200 substances in a small class graph. Prints the time of
each listing (best of several runs), the ratio (goal: under 2), and the number of SQL
statements at 500 and at 5,000 serums (goal: equal).

    .venv/bin/python bench/safety_screen.py            # SQLite file in a temp folder
    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/safety_screen.py   # PostgreSQL
"""

import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.schemas.patients import ScreenedSerumSchema
from app import create_app
from clinic.models import Allergy, AllergyStatus, Patient, Sex
from clinic.safety import approved_serum_formulas, screen_approved_serums
from config import database_url
from core.database import db
from formulary.models import Serum, SerumComponent, SerumStatus
from formulary.substances import create_substance

SERUMS = 5_000
COMPONENTS = 8
SUBSTANCES = 200
ALLERGIES = 20
RUNS = 5


def build_catalogue(rng: random.Random) -> list[int]:
    classes = [create_substance(f"class {n}", "other", is_class=True).id for n in range(20)]
    allergens = [create_substance(f"allergen {n}", "other").id for n in range(10)]
    substances = []
    for n in range(SUBSTANCES):
        substance = create_substance(
            f"substance {n}",
            rng.choice(["amino_acid", "vitamin", "trace_element", "antioxidant"]),
            parents=rng.sample(classes, 1),
            contains=rng.sample(allergens, rng.choice([0, 0, 1])),
        )
        substances.append(substance.id)
    db.session.commit()
    return classes + allergens + substances


def add_serums(count: int, substance_ids: list[int], rng: random.Random, start: int = 0) -> None:
    serum_rows = [
        {
            "code": f"S{n:05d}",
            "name": f"Serum {n}",
            "version": 1,
            "status": SerumStatus.APPROVED,
            "source": "compounded",
            "dose_volume_ml": Decimal("2"),
        }
        for n in range(start, start + count)
    ]
    db.session.execute(insert(Serum), serum_rows)
    ids = db.session.scalars(select(Serum.id).where(Serum.code >= f"S{start:05d}")).all()
    component_rows = [
        {
            "serum_id": serum_id,
            "substance_id": substance_id,
            "position": position,
            "amount_value": Decimal("1"),
            "amount_unit": "mg",
        }
        for serum_id in ids
        for position, substance_id in enumerate(rng.sample(substance_ids[30:], COMPONENTS))
    ]
    db.session.execute(insert(SerumComponent), component_rows)
    db.session.commit()


def make_patient(substance_ids: list[int], rng: random.Random) -> Patient:
    patient = Patient(mrn="BENCH-1", name="Bench Patient", sex=Sex.MALE,
                      alopecia_scale="norwood", alopecia_stage=3,
                      allergy_status=AllergyStatus.RECORDED)  # fmt: skip
    db.session.add(patient)
    db.session.flush()
    for substance_id in rng.sample(substance_ids, ALLERGIES):
        db.session.add(Allergy(patient_id=patient.id, substance_id=substance_id))
    db.session.commit()
    return patient


def screened_listing(patient_id: int) -> list:
    db.session.expire_all()
    patient = db.session.get(Patient, patient_id)
    return ScreenedSerumSchema(many=True).dump(screen_approved_serums(patient))


def plain_listing(patient_id: int) -> list:
    """The same list without the screen: the approved serums and their components, loaded the
    same way and answered in the same shape, less the verdict and reasons."""
    db.session.expire_all()
    db.session.get(Patient, patient_id)
    return ScreenedSerumSchema(many=True, only=("serum",)).dump(approved_serum_formulas())


def best_time(function, *args) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def statements_of(function, *args) -> int:
    counted = []

    def count(*_):
        counted.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        function(*args)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(counted)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": database_url(url)})
        with app.app_context():
            db.drop_all()
            db.create_all()
            rng = random.Random(7)
            substance_ids = build_catalogue(rng)
            patient = make_patient(substance_ids, rng)
            add_serums(500, substance_ids, rng)
            queries_500 = statements_of(screened_listing, patient.id)
            add_serums(SERUMS - 500, substance_ids, rng, start=500)
            queries_5000 = statements_of(screened_listing, patient.id)
            listed = screened_listing(patient.id)
            verdicts = {v: sum(1 for s in listed if s["verdict"] == v) for v in
                        ("safe", "caution", "contraindicated")}  # fmt: skip
            plain = best_time(plain_listing, patient.id)
            screened = best_time(screened_listing, patient.id)
            db.session.remove()  # end the read transaction, or PostgreSQL's DROP waits on it
            db.drop_all()
            db.engine.dispose()
    print(f"database: {url.split(':')[0]}")
    print(
        f"serums: {SERUMS} approved x {COMPONENTS} components; patient with {ALLERGIES} allergies"
    )
    print(f"verdicts: {verdicts}")
    print(f"SQL statements of the screened list: {queries_500} at 500 serums, "
          f"{queries_5000} at {SERUMS}")  # fmt: skip
    print(f"listing without screening: {plain * 1000:8.1f} ms (best of {RUNS})")
    print(f"listing with screening:    {screened * 1000:8.1f} ms (best of {RUNS})")
    print(f"ratio screened / plain:    {screened / plain:8.2f}  (goal: under 2)")


if __name__ == "__main__":
    main()

"""Benchmark: the screened serum listing against the same listing unscreened.

A patient with 20 allergies (substances, classes and carried allergens) against 500, 5,000 and
20,000 approved serums of 8 components each, on a catalogue of 230 substances in a small
class graph with cross-reactivity groups. At each size it times, in rounds that alternate
them (in one order, then in the reverse order), after a warm-up of each:

- the screened listing: what `GET /api/patients/{id}/serums` computes, every approved serum
  with its verdict and reasons for the patient (`clinic.safety.screen_approved_serums`),
  dumped whole by `ScreenedSerumSchema`;
- the baseline, the same listing unscreened: the approved serums and their components, read
  as rows in two statements, dumped by the same schema less the verdict and the reasons;
- for reference only, the serum rows alone (no components), dumped the same way.

It prints each listing's time and SQL statements at each size, and the screened listing's
ratio to the baseline (and to the serum rows) round by round, as median and range. Goals:
the screened listing within 2x of the baseline at every size, and its SQL statements the same
number at every size. `--results FILE` writes those findings as JSON (bench/measure.py).

    .venv/bin/python bench/safety_screen.py [--results FILE]          # SQLite, temp folder
    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/safety_screen.py   # PostgreSQL
"""

import argparse
import gc
import random
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from measure import (
    ROUNDS,
    Finding,
    Spread,
    add_results_argument,
    bench_database,
    database_kind,
    ratios,
    report,
    spread,
)
from sqlalchemy import event, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.schemas.patients import ScreenedSerumSchema
from app import create_app
from clinic.models import Allergy, AllergyStatus, Patient, Sex
from clinic.safety import screen_approved_serums
from core.database import db
from formulary.models import CrossReactivityGroup, Serum, SerumComponent, SerumStatus
from formulary.substances import create_substance

SIZES = (500, 5_000, 20_000)
COMPONENTS = 8
SUBSTANCES = 200
ALLERGIES = 20
GROUPS = 4
GOAL_RATIO = 2.0
# A timed sample lists this many serums in all (20 listings of 500, 2 of 5,000, 1 of 20,000),
# so that the small size is not a measure of the timer and the machine's hiccups.
SERUMS_PER_SAMPLE = 10_000


def build_catalogue(rng: random.Random) -> list[int]:
    """20 classes, 10 allergens, 200 substances each in one class and one in three carrying an
    allergen, and 4 cross-reactivity groups of two classes each (as esters and PABA are in
    the seed); answers the substances' ids, classes and allergens first."""
    classes = [create_substance(f"class {n}", "other", is_class=True) for n in range(20)]
    allergens = [create_substance(f"allergen {n}", "other").id for n in range(10)]
    substances = []
    for n in range(SUBSTANCES):
        substance = create_substance(
            f"substance {n}",
            rng.choice(["amino_acid", "vitamin", "trace_element", "antioxidant"]),
            parents=[rng.choice(classes).id],
            contains=rng.sample(allergens, rng.choice([0, 0, 1])),
        )
        substances.append(substance.id)
    for n in range(GROUPS):
        db.session.add(CrossReactivityGroup(name=f"group {n}", members=rng.sample(classes, 2)))
    db.session.commit()
    return [c.id for c in classes] + allergens + substances


def add_serums(count: int, substance_ids: list[int], rng: random.Random, *, start: int) -> None:
    """`count` approved serums of 8 components each, in bulk."""
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
    _analyze()


def _analyze() -> None:
    """Fresh statistics after a bulk load, as a production database would have."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def make_patient(substance_ids: list[int], rng: random.Random) -> int:
    """A Norwood III man with 20 recorded allergies drawn from the whole catalogue."""
    patient = Patient(mrn="BENCH-1", name="Bench Patient", sex=Sex.MALE,
                      alopecia_scale="norwood", alopecia_stage=3,
                      allergy_status=AllergyStatus.RECORDED)  # fmt: skip
    db.session.add(patient)
    db.session.flush()
    for substance_id in rng.sample(substance_ids, ALLERGIES):
        db.session.add(Allergy(patient_id=patient.id, substance_id=substance_id))
    db.session.commit()
    return patient.id


def screened_listing(patient_id: int) -> list:
    """Every approved serum with its verdict and reasons, as the endpoint computes it."""
    db.session.expire_all()
    patient = db.session.get(Patient, patient_id)
    return ScreenedSerumSchema(many=True).dump(screen_approved_serums(patient))


class UnscreenedSerum(NamedTuple):
    serum: object
    components: list[int]


def unscreened_listing(patient_id: int) -> list:
    """The baseline, the same listing without the screen: the patient, the approved serums in
    the same order and their components as rows (two statements, nothing joined or built that
    a plain listing would not need), dumped in the same shape less the verdict and the
    reasons."""
    db.session.expire_all()
    db.session.get(Patient, patient_id)
    serums = db.session.execute(_approved_serum_rows()).all()
    components: dict[int, list[int]] = defaultdict(list)
    for serum_id, substance_id in db.session.execute(
        select(SerumComponent.serum_id, SerumComponent.substance_id)
        .join(Serum, Serum.id == SerumComponent.serum_id)
        .where(Serum.status == SerumStatus.APPROVED)
    ):
        components[serum_id].append(substance_id)
    listed = [UnscreenedSerum(serum, components[serum.id]) for serum in serums]
    return ScreenedSerumSchema(many=True, only=("serum",)).dump(listed)


def serum_rows_listing(patient_id: int) -> list:
    """For reference, a listing leaner than the baseline: the serum rows alone, without their
    components (what an unscreened listing that shows no formula would read)."""
    db.session.expire_all()
    db.session.get(Patient, patient_id)
    serums = db.session.execute(_approved_serum_rows()).all()
    listed = [UnscreenedSerum(serum, []) for serum in serums]
    return ScreenedSerumSchema(many=True, only=("serum",)).dump(listed)


def _approved_serum_rows():
    return (
        select(Serum.id, Serum.code, Serum.name, Serum.version)
        .where(Serum.status == SerumStatus.APPROVED)
        .order_by(Serum.code, Serum.version)
    )


LISTINGS = {
    "screened": screened_listing,
    "unscreened": unscreened_listing,
    "serum rows": serum_rows_listing,
}


def statements_of(listing, patient_id: int) -> int:
    counted = []

    def count(*_):
        counted.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        listing(patient_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(counted)


def alternate_rounds(patient_id: int, size: int) -> dict[str, Spread]:
    """Seconds per listing of each of the LISTINGS over ROUNDS rounds that alternate them (in
    turn in one order, then in the reverse order), after one warm-up of each."""
    repeats = max(1, SERUMS_PER_SAMPLE // size)
    for listing in LISTINGS.values():
        listing(patient_id)

    def sample(listing) -> float:
        gc.collect()  # each sample starts from an empty nursery, not the previous one's litter
        started = time.perf_counter()
        for _ in range(repeats):
            listing(patient_id)
        return (time.perf_counter() - started) / repeats

    seconds: dict[str, list[float]] = {name: [] for name in LISTINGS}
    names = list(LISTINGS)
    for number in range(ROUNDS):
        for name in names if number % 2 == 0 else reversed(names):
            seconds[name].append(sample(LISTINGS[name]))
    return {name: spread(values) for name, values in seconds.items()}


class AtSize(NamedTuple):
    size: int
    seconds: dict[str, Spread]
    statements: dict[str, int]
    verdicts: dict[str, int]

    def ratio(self, baseline: str = "unscreened") -> Spread:
        return ratios(self.seconds["screened"], self.seconds[baseline])


def measure_size(patient_id: int, size: int) -> AtSize:
    listed = screened_listing(patient_id)
    assert len(listed) == size, (len(listed), size)
    verdicts = {v: sum(1 for s in listed if s["verdict"] == v) for v in
                ("safe", "caution", "contraindicated")}  # fmt: skip
    seconds = alternate_rounds(patient_id, size)
    statements = {name: statements_of(listing, patient_id) for name, listing in LISTINGS.items()}
    return AtSize(size, seconds, statements, verdicts)


def run(url: str) -> list[AtSize]:
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
    measured = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        try:
            rng = random.Random(7)
            substance_ids = build_catalogue(rng)
            patient_id = make_patient(substance_ids, rng)
            listed = 0
            for size in SIZES:
                add_serums(size - listed, substance_ids, rng, start=listed)
                listed = size
                measured.append(measure_size(patient_id, size))
                print_size(measured[-1])
        finally:
            db.session.remove()  # end the read transaction, or PostgreSQL's DROP waits on it
            db.drop_all()
            db.engine.dispose()
    return measured


def print_size(at: AtSize) -> None:
    print(f"{at.size:,} serums: verdicts {at.verdicts}")
    for name, seconds in at.seconds.items():
        print(f"  {name + ':':12} {seconds.describe(' ms', scale=1000, digits=1)}, "
              f"{at.statements[name]} SQL statements")  # fmt: skip
    print(f"  screened / unscreened (the goal's ratio): {at.ratio().describe('x')}")
    print(f"  screened / serum rows (for reference):    {at.ratio('serum rows').describe('x')}")


def findings(database: str, measured: list[AtSize]) -> list[Finding]:
    found = []
    for at in measured:
        ratio = at.ratio()
        found.append(
            Finding(
                benchmark="safety_screen",
                database=database,
                what=f"screened serum listing vs the same listing unscreened, {at.size:,} serums",
                measured=ratio.describe("x"),
                goal=f"<= {GOAL_RATIO:g}x",
                met=ratio.median <= GOAL_RATIO,
            )
        )
    counts = {at.size: at.statements["screened"] for at in measured}
    found.append(
        Finding(
            benchmark="safety_screen",
            database=database,
            what="SQL statements independent of serum count",
            measured=", ".join(f"{count} at {size:,}" for size, count in counts.items()),
            goal="the same number at every size",
            met=len(set(counts.values())) == 1,
        )
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_argument(parser)
    arguments = parser.parse_args()
    with bench_database() as url:
        database = database_kind(url)
        print(f"database: {database} ({url.split('@')[-1]})")
        print(f"patient with {ALLERGIES} allergies; serums of {COMPONENTS} components; "
              f"{ROUNDS} rounds")  # fmt: skip
        measured = run(url)
    report(findings(database, measured), arguments.results)


if __name__ == "__main__":
    main()

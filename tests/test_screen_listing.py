"""The screen of the serum listing agrees with the screen of one serum, on random catalogues.

The listing (`clinic.safety.screen_approved_serums`, and `screen_serums` by id) reads only the
components that reach a substance the patient's allergies watch, works out each substance's
reasons once and shares one screen between serums that raise the same reasons. The one-serum
screen (`clinic.safety.screen_patient_serum`, what `GET /api/patients/{id}/safety` explains)
reads every component of the serum and hands them all to the pure `formulary.screen.screen_serum`,
whose rules test_safety_screen.py checks row by row. A listing that skipped a component which
raises a reason would miss an allergy: Hypothesis draws random "is a" and "contains" graphs,
cross-reactivity groups, serums and allergies, and the two must give the same verdicts and the
same reasons, in the same order, for every serum.
"""

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clinic.models import (
    Allergy,
    AllergyStatus,
    AlopeciaScale,
    ClinicalStatus,
    Criticality,
    Patient,
    Sex,
    VerificationStatus,
)
from clinic.safety import screen_approved_serums, screen_patient_serum, screen_serums
from core.database import db
from formulary.graph import refresh_lineage
from formulary.models import (
    Category,
    CrossReactivityGroup,
    RelationKind,
    Serum,
    SerumComponent,
    SerumSource,
    SerumStatus,
    Substance,
    SubstanceRelation,
)
from formulary.screen import (
    AllergyFact,
    CrossReactivityFact,
    PatientProfile,
    ScreenComponent,
    component_reasons,
    watched_substances,
)


@st.composite
def catalogues(draw):
    """Substances (some classes), edges from each substance to earlier ones only (so the graph
    is acyclic, as formulary.graph keeps it), groups, serums (some drafts) and a patient."""
    size = draw(st.integers(2, 8))
    substances = range(size)
    parents = [
        draw(
            st.dictionaries(
                st.integers(0, child - 1), st.sampled_from(list(RelationKind)), max_size=3
            )
        )
        if child
        else {}
        for child in substances
    ]
    groups = draw(
        st.lists(st.sets(st.sampled_from(substances), min_size=2, max_size=4), max_size=4)
    )
    serums = draw(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from(substances), min_size=1, max_size=5, unique=True),
                st.sampled_from([SerumStatus.APPROVED, SerumStatus.APPROVED, SerumStatus.DRAFT]),
            ),
            min_size=1,
            max_size=8,
        )
    )
    allergies = draw(
        st.dictionaries(
            st.sampled_from(substances),
            st.tuples(
                st.sampled_from(list(Criticality)),
                # Mostly allergies that count (active, not refuted, not entered in error).
                st.sampled_from([*[ClinicalStatus.ACTIVE] * 4, *ClinicalStatus]),
                st.sampled_from([*[VerificationStatus.CONFIRMED] * 4, *VerificationStatus]),
            ),
            max_size=5,
        )
    )
    patient = {
        "allergy_status": draw(st.sampled_from(list(AllergyStatus))),
        "sex, scale, stage": draw(
            st.one_of(
                st.just((Sex.MALE, None, None)),
                st.tuples(st.just(Sex.MALE), st.just(AlopeciaScale.NORWOOD), st.integers(1, 7)),
                st.tuples(st.just(Sex.FEMALE), st.just(AlopeciaScale.LUDWIG), st.integers(1, 3)),
            )
        ),
        "uncoded_allergy": draw(st.booleans()),
    }
    return {
        "classes": [draw(st.booleans()) for _ in substances],
        "parents": parents,
        "groups": groups,
        "serums": serums,
        "allergies": allergies,
        "patient": patient,
    }


def build(catalogue) -> tuple[Patient, list[Serum]]:
    substances = [
        Substance(name=f"substance {n}", name_key=f"substance {n}", category=Category.OTHER,
                  is_class=is_class)
        for n, is_class in enumerate(catalogue["classes"])
    ]  # fmt: skip
    db.session.add_all(substances)
    db.session.flush()
    for child, related in enumerate(catalogue["parents"]):
        for parent, kind in related.items():
            db.session.add(
                SubstanceRelation(
                    substance_id=substances[child].id, related_id=substances[parent].id, kind=kind
                )
            )
    db.session.flush()
    refresh_lineage([substance.id for substance in substances])
    for n, members in enumerate(catalogue["groups"]):
        db.session.add(
            CrossReactivityGroup(name=f"group {n}", members=[substances[m] for m in members])
        )
    serums = [
        Serum(
            code=f"S{n:02d}",
            name=f"Serum {n}",
            status=status,
            source=SerumSource.COMPOUNDED,
            dose_volume_ml=Decimal("2"),
            components=[
                SerumComponent(
                    substance_id=substances[s].id,
                    position=position,
                    amount_value=Decimal("1"),
                    amount_unit="mg",
                )
                for position, s in enumerate(components)
            ],
        )
        for n, (components, status) in enumerate(catalogue["serums"])
    ]
    db.session.add_all(serums)
    described = catalogue["patient"]
    sex, scale, stage = described["sex, scale, stage"]
    patient = Patient(
        mrn="PROPERTY-1",
        name="Property Patient",
        sex=sex,
        alopecia_scale=scale,
        alopecia_stage=stage,
        allergy_status=described["allergy_status"],
    )
    db.session.add(patient)
    db.session.flush()
    for s, (criticality, clinical, verification) in catalogue["allergies"].items():
        db.session.add(
            Allergy(
                patient_id=patient.id,
                substance_id=substances[s].id,
                criticality=criticality,
                clinical_status=clinical,
                verification_status=verification,
            )
        )
    if described["uncoded_allergy"]:
        db.session.add(Allergy(patient_id=patient.id, text="an allergen from elsewhere"))
    db.session.flush()
    return patient, serums


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(catalogue=catalogues())
def test_the_listing_screens_every_serum_as_the_one_serum_screen_does(catalogue, db_session):
    try:
        patient, serums = build(catalogue)
        one_by_one = {serum.id: screen_patient_serum(patient, serum) for serum in serums}
        approved = sorted(
            (serum for serum in serums if serum.status == SerumStatus.APPROVED),
            key=lambda serum: serum.code,
        )
        expected = sorted(
            ((serum.id, one_by_one[serum.id]) for serum in approved),
            key=lambda pair: pair[1].verdict.rank,
        )
        listed = screen_approved_serums(patient)
        # What the drawn catalogues exercise, shown by --hypothesis-show-statistics.
        for item in listed:
            for reason in item.screen.reasons:
                event(f"{reason.kind} reason" + (" of a component" if reason.component else ""))
        assert [(item.serum.id, item.screen) for item in listed] == expected
        assert screen_serums(patient, set(one_by_one)) == one_by_one
    finally:
        db.session.rollback()


@dataclass(frozen=True)
class Link:
    substance_id: int
    name: str
    path: tuple[str, ...]
    via_contains: bool


def link(substance_id, *, via_contains=False):
    return Link(substance_id, f"substance {substance_id}", (f"substance {substance_id}",),
                via_contains)  # fmt: skip


some_lineage = st.lists(
    st.builds(link, st.integers(0, 12), via_contains=st.booleans()),
    max_size=5,
    unique_by=lambda found: found.substance_id,
)


@settings(max_examples=300, database=None)
@given(
    allergies=st.lists(
        st.tuples(st.integers(0, 12), some_lineage, st.sampled_from(["low", "high"])), max_size=4
    ),
    groups=st.lists(st.frozensets(st.integers(0, 12), min_size=1, max_size=4), max_size=3),
    component=st.tuples(st.integers(0, 12), some_lineage),
)
def test_a_component_that_reaches_no_watched_substance_raises_no_reason(
    allergies, groups, component
):
    profile = PatientProfile(
        "male",
        "norwood",
        3,
        "recorded",
        allergies=tuple(
            AllergyFact(n, substance_id, f"substance {substance_id}", criticality,
                        (link(substance_id), *lineage))
            for n, (substance_id, lineage, criticality) in enumerate(allergies)
        ),
    )  # fmt: skip
    facts = [CrossReactivityFact(n, f"group {n}", members) for n, members in enumerate(groups)]
    substance_id, lineage = component
    screened = ScreenComponent(substance_id, f"substance {substance_id}", tuple(lineage))
    reaches = {link.substance_id for link in lineage}
    if not reaches & watched_substances(profile, groups=facts):
        assert component_reasons(profile, screened, groups=facts) == []

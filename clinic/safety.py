"""Feeding the safety screen: the patient's profile and the serums' substance graph, loaded
set-based (a fixed number of queries whatever the number of serums), then screened by the
pure function in formulary/screen.py."""

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from clinic.models import Allergy, ConditionRule, Course, Indication, Patient
from core.database import db
from formulary.graph import lineages
from formulary.models import (
    CrossReactivityGroup,
    Serum,
    SerumComponent,
    SerumStatus,
    Substance,
    SubstanceLineage,
    cross_reactivity_members,
)
from formulary.screen import (
    AllergyFact,
    ConditionFact,
    CrossReactivityFact,
    PatientProfile,
    Screen,
    ScreenComponent,
    Verdict,
    component_reasons,
    patient_reasons,
    screen_from_reasons,
    screen_serum,
    watched_substances,
)


class SerumRef(NamedTuple):
    id: int
    code: str
    name: str
    version: int


@dataclass(frozen=True)
class SerumFormula:
    """An approved serum as the screen sees it: which substances it is made of."""

    serum: SerumRef
    components: tuple[tuple[int, str], ...]  # (substance id, substance name)


class ScreenedSerum(NamedTuple):
    serum: SerumRef
    screen: Screen


def patient_profile(patient: Patient, *, indication: Indication | None = None) -> PatientProfile:
    """The patient as the screen sees them; with an `indication`, for a course that treats it
    (the stage rules follow it)."""
    counting = [allergy for allergy in _allergies(patient) if allergy.counts]
    allergen_lineages = lineages({a.substance_id for a in counting if a.substance_id})
    profile = _profile(patient, counting, allergen_lineages, _condition_rules([patient]))
    return replace(profile, indication=indication)


def patient_profiles(patient_ids: Collection[int]) -> dict[int, PatientProfile]:
    """The profiles of many patients in a fixed number of queries, whatever their number."""
    if not patient_ids:
        return {}
    ids = sorted(set(patient_ids))
    patients = db.session.scalars(
        select(Patient).where(Patient.id.in_(ids)).options(selectinload(Patient.conditions))
    ).all()
    allergies: dict[int, list[Allergy]] = defaultdict(list)
    for allergy in db.session.scalars(
        select(Allergy)
        .where(Allergy.patient_id.in_(ids))
        .options(selectinload(Allergy.substance))
        .order_by(Allergy.id)
    ):
        if allergy.counts:
            allergies[allergy.patient_id].append(allergy)
    allergen_lineages = lineages(
        {a.substance_id for each in allergies.values() for a in each if a.substance_id}
    )
    rules = _condition_rules(patients)
    return {
        patient.id: _profile(patient, allergies[patient.id], allergen_lineages, rules)
        for patient in patients
    }


def _condition_rules(patients: Iterable[Patient]) -> dict[str, ConditionRule]:
    codes = {c.code for patient in patients for c in patient.conditions if c.active}
    if not codes:
        return {}
    rules = db.session.scalars(select(ConditionRule).where(ConditionRule.code.in_(sorted(codes))))
    return {rule.code: rule for rule in rules}


def _profile(
    patient: Patient,
    counting: list[Allergy],
    allergen_lineages: dict,
    rules: dict[str, ConditionRule],
) -> PatientProfile:
    active_codes = sorted({c.code for c in patient.conditions if c.active} & rules.keys())
    return PatientProfile(
        sex=patient.sex.value,
        alopecia_scale=patient.alopecia_scale.value if patient.alopecia_scale else None,
        alopecia_stage=patient.alopecia_stage,
        allergy_status=patient.allergy_status.value,
        allergies=tuple(
            AllergyFact(
                allergy_id=allergy.id,
                substance_id=allergy.substance_id,
                substance=allergy.substance.name,
                criticality=allergy.criticality.value,
                lineage=tuple(allergen_lineages.get(allergy.substance_id, ())),
            )
            for allergy in counting
            if allergy.substance_id is not None
        ),
        unscreened_allergies=tuple(allergy.text for allergy in counting if allergy.unscreened),
        conditions=tuple(
            ConditionFact(rule.code, rule.label, Verdict(rule.verdict), rule.message)
            for rule in (rules[code] for code in active_codes)
        ),
    )


def screen_patient_serum(
    patient: Patient, serum: Serum, *, indication: Indication | None = None
) -> Screen:
    """One serum's screen; with an `indication`, for a course that treats it."""
    profile = patient_profile(patient, indication=indication)
    reach = lineages({component.substance_id for component in serum.components})
    components = _screen_components(serum.components, reach)
    return screen_serum(profile, components, groups=cross_reactivity_facts())


def serum_formulas(which) -> list[SerumFormula]:
    """The serums a condition selects, with their components, in two queries whatever their
    number (no ORM relationship loading, which would batch the IN lists by the hundred)."""
    serums = db.session.execute(_serum_rows(which)).all()
    rows = db.session.execute(
        select(SerumComponent.serum_id, SerumComponent.substance_id, Substance.name)
        .join(Serum, Serum.id == SerumComponent.serum_id)
        .join(Substance, Substance.id == SerumComponent.substance_id)
        .where(which)
        .order_by(SerumComponent.serum_id, SerumComponent.position, SerumComponent.id)
    ).all()
    components: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for serum_id, substance_id, name in rows:
        components[serum_id].append((substance_id, name))
    return [SerumFormula(SerumRef(*serum), tuple(components[serum.id])) for serum in serums]


def screen_approved_serums(
    patient: Patient, verdict: Verdict | None = None, *, indication: Indication | None = None
) -> list[ScreenedSerum]:
    """Every approved serum with its verdict, safest first (then by code); with an
    `indication`, as for a course that treats it."""
    screened = _screen_where(patient, Serum.status == SerumStatus.APPROVED, indication)
    if verdict is not None:
        screened = [s for s in screened if s.screen.verdict == verdict]
    return sorted(screened, key=lambda s: s.screen.verdict.rank)


def screen_serums(
    patient: Patient, serum_ids: set[int], *, indication: Indication | None = None
) -> dict[int, Screen]:
    """The screen of each of the serums, whatever their status (a course keeps the version it
    was planned with after a newer one is approved), in a fixed number of queries."""
    if not serum_ids:
        return {}
    screened = _screen_where(patient, Serum.id.in_(sorted(serum_ids)), indication)
    return {item.serum.id: item.screen for item in screened}


def screen_courses(patient: Patient, courses: Iterable[Course]) -> dict[int, Screen]:
    """Today's screen of each course's serum for the patient, as for what the course treats:
    by course id, in a fixed number of queries per indication whatever the number of
    courses."""
    by_indication: dict[Indication, list[Course]] = defaultdict(list)
    for course in courses:
        by_indication[course.indication].append(course)
    screens = {}
    for indication, treating in by_indication.items():
        serums = screen_serums(
            patient, {course.serum_id for course in treating}, indication=indication
        )
        screens.update({course.id: serums[course.serum_id] for course in treating})
    return screens


def _screen_where(
    patient: Patient, which, indication: Indication | None = None
) -> list[ScreenedSerum]:
    """The serums a condition selects, screened, by code. A fixed number of queries whatever
    their number, and the cost of a serum that nothing speaks against is one row: only the
    components that reach a substance the patient's allergies watch are read, each one's
    reasons are worked out once, and serums that raise the same reasons share one screen."""
    profile = patient_profile(patient, indication=indication)
    groups = cross_reactivity_facts()
    serums = db.session.execute(_serum_rows(which)).all()
    flagged = _components_reaching(which, watched_substances(profile, groups=groups))
    names = dict(component for components in flagged.values() for component in components)
    reach = lineages(names)
    by_substance = {
        substance_id: component_reasons(
            profile,
            ScreenComponent(substance_id, name, tuple(reach.get(substance_id, ()))),
            groups=groups,
        )
        for substance_id, name in names.items()
    }
    common = patient_reasons(profile)
    screens: dict[tuple[tuple[int, str], ...], Screen] = {}
    screened = []
    for serum in serums:
        components = flagged.get(serum.id, ())
        screen = screens.get(components)
        if screen is None:
            reasons = [
                *common,
                *(r for substance_id, _ in components for r in by_substance[substance_id]),
            ]
            screen = screens[components] = screen_from_reasons(reasons)
        screened.append(ScreenedSerum(SerumRef(*serum), screen))
    return screened


def _serum_rows(which):
    return (
        select(Serum.id, Serum.code, Serum.name, Serum.version)
        .where(which)
        .order_by(Serum.code, Serum.version)
    )


def _components_reaching(which, watched: frozenset[int]) -> dict[int, tuple[tuple[int, str], ...]]:
    """By serum: its components (substance id and name, in the serum's order) whose lineage
    reaches one of the watched substances. One query; none when nothing is watched."""
    if not watched:
        return {}
    reaching = select(SubstanceLineage.substance_id).where(
        SubstanceLineage.ancestor_id.in_(sorted(watched))
    )
    rows = db.session.execute(
        select(SerumComponent.serum_id, SerumComponent.substance_id, Substance.name)
        .join(Serum, Serum.id == SerumComponent.serum_id)
        .join(Substance, Substance.id == SerumComponent.substance_id)
        .where(which, SerumComponent.substance_id.in_(reaching))
        .order_by(SerumComponent.serum_id, SerumComponent.position, SerumComponent.id)
    )
    components: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for serum_id, substance_id, name in rows:
        components[serum_id].append((substance_id, name))
    return {serum_id: tuple(found) for serum_id, found in components.items()}


def screen_pairs(
    pairs: Collection[tuple[int, int, Indication | None]],
) -> dict[tuple[int, int, Indication | None], Screen]:
    """The screen of each (patient id, serum id, indication) triple, as of now, in a fixed
    number of queries whatever the number of triples, patients and serums (the doctor's agenda
    screens a week of sessions across patients this way, each as for what its course
    treats)."""
    if not pairs:
        return {}
    profiles = patient_profiles({patient_id for patient_id, _, _ in pairs})
    serum_ids = sorted({serum_id for _, serum_id, _ in pairs})
    formulas = {formula.serum.id: formula for formula in serum_formulas(Serum.id.in_(serum_ids))}
    groups = cross_reactivity_facts()
    reach = lineages({sid for formula in formulas.values() for sid, _ in formula.components})
    screens = {}
    for patient_id, serum_id, indication in pairs:
        profile, formula = profiles.get(patient_id), formulas.get(serum_id)
        if profile is None or formula is None:
            continue
        profile = replace(profile, indication=indication)
        components = [
            ScreenComponent(substance_id, name, tuple(reach.get(substance_id, ())))
            for substance_id, name in formula.components
        ]
        screens[patient_id, serum_id, indication] = screen_serum(profile, components, groups=groups)
    return screens


def cross_reactivity_facts() -> list[CrossReactivityFact]:
    """Every cross-reactivity group with its members, in one query, oldest group first (the
    screen names the first group that links a component to an allergy)."""
    members = cross_reactivity_members
    rows = db.session.execute(
        select(
            CrossReactivityGroup.id,
            CrossReactivityGroup.name,
            CrossReactivityGroup.note,
            members.c.substance_id,
        )
        .outerjoin(members, members.c.group_id == CrossReactivityGroup.id)
        .order_by(CrossReactivityGroup.id)
    )
    groups: dict[int, tuple[str, str | None]] = {}
    member_ids: dict[int, set[int]] = defaultdict(set)
    for group_id, name, note, member_id in rows:
        groups[group_id] = (name, note)
        if member_id is not None:
            member_ids[group_id].add(member_id)
    return [
        CrossReactivityFact(group_id, name, frozenset(member_ids[group_id]), note)
        for group_id, (name, note) in groups.items()
    ]


def _allergies(patient: Patient) -> list[Allergy]:
    return db.session.scalars(
        select(Allergy)
        .where(Allergy.patient_id == patient.id)
        .options(joinedload(Allergy.substance))
        .order_by(Allergy.id)
    ).all()


def _screen_components(components, reach) -> list[ScreenComponent]:
    return [
        ScreenComponent(c.substance_id, c.substance.name, tuple(reach.get(c.substance_id, ())))
        for c in components
    ]

"""Feeding the safety screen: the patient's profile and the serums' substance graph, loaded
set-based (a fixed number of queries whatever the number of serums), then screened by the
pure function in formulary/screen.py."""

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from clinic.models import Allergy, ConditionRule, Patient
from core.database import db
from formulary.graph import lineages
from formulary.models import CrossReactivityGroup, Serum, SerumComponent, SerumStatus, Substance
from formulary.screen import (
    AllergyFact,
    ConditionFact,
    CrossReactivityFact,
    PatientProfile,
    Reason,
    Screen,
    ScreenComponent,
    Verdict,
    component_reasons,
    patient_reasons,
    screen_from_reasons,
    screen_serum,
)


@dataclass(frozen=True)
class SerumRef:
    id: int
    code: str
    name: str
    version: int


@dataclass(frozen=True)
class SerumFormula:
    """An approved serum as the screen sees it: which substances it is made of."""

    serum: SerumRef
    components: tuple[tuple[int, str], ...]  # (substance id, substance name)


@dataclass(frozen=True)
class ScreenedSerum:
    serum: SerumRef
    screen: Screen


def patient_profile(patient: Patient) -> PatientProfile:
    counting = [allergy for allergy in _allergies(patient) if allergy.counts]
    allergen_lineages = lineages({a.substance_id for a in counting if a.substance_id})
    return _profile(patient, counting, allergen_lineages, _condition_rules([patient]))


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


def screen_patient_serum(patient: Patient, serum: Serum) -> Screen:
    profile = patient_profile(patient)
    reach = lineages({component.substance_id for component in serum.components})
    components = _screen_components(serum.components, reach)
    return screen_serum(profile, components, groups=cross_reactivity_facts())


def approved_serum_formulas() -> list[SerumFormula]:
    """Every approved serum with its components, in two queries whatever their number."""
    return serum_formulas(Serum.status == SerumStatus.APPROVED)


def serum_formulas(which) -> list[SerumFormula]:
    """The serums a condition selects, with their components, in two queries whatever their
    number (no ORM relationship loading, which would batch the IN lists by the hundred)."""
    serums = db.session.execute(
        select(Serum.id, Serum.code, Serum.name, Serum.version)
        .where(which)
        .order_by(Serum.code, Serum.version)
    ).all()
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


def screen_approved_serums(patient: Patient, verdict: Verdict | None = None) -> list[ScreenedSerum]:
    """Every approved serum with its verdict, safest first (then by code)."""
    screened = screen_formulas(patient, approved_serum_formulas())
    if verdict is not None:
        screened = [s for s in screened if s.screen.verdict == verdict]
    return sorted(screened, key=lambda s: s.screen.verdict.rank)


def screen_serums(patient: Patient, serum_ids: set[int]) -> dict[int, Screen]:
    """The screen of each of the serums, whatever their status (a course keeps the version it
    was planned with after a newer one is approved), in a fixed number of queries."""
    if not serum_ids:
        return {}
    formulas = serum_formulas(Serum.id.in_(sorted(serum_ids)))
    return {item.serum.id: item.screen for item in screen_formulas(patient, formulas)}


def screen_formulas(patient: Patient, formulas: list[SerumFormula]) -> list[ScreenedSerum]:
    """The formulas screened in their order. Reasons that depend only on a substance are
    worked out once per substance, not once per serum."""
    profile = patient_profile(patient)
    groups = cross_reactivity_facts()
    reach = lineages({sid for formula in formulas for sid, _ in formula.components})
    common = patient_reasons(profile)
    by_substance: dict[int, list[Reason]] = {}
    screened = []
    for formula in formulas:
        reasons = list(common)
        for substance_id, name in formula.components:
            if substance_id not in by_substance:
                component = ScreenComponent(substance_id, name, tuple(reach.get(substance_id, ())))
                by_substance[substance_id] = component_reasons(profile, component, groups=groups)
            reasons += by_substance[substance_id]
        screened.append(ScreenedSerum(formula.serum, screen_from_reasons(reasons)))
    return screened


def screen_pairs(pairs: Collection[tuple[int, int]]) -> dict[tuple[int, int], Screen]:
    """The screen of each (patient id, serum id) pair, as of now, in a fixed number of queries
    whatever the number of pairs, patients and serums (the doctor's agenda screens a week of
    sessions across patients this way)."""
    if not pairs:
        return {}
    profiles = patient_profiles({patient_id for patient_id, _ in pairs})
    formulas = {
        formula.serum.id: formula
        for formula in serum_formulas(Serum.id.in_(sorted({serum_id for _, serum_id in pairs})))
    }
    groups = cross_reactivity_facts()
    reach = lineages({sid for formula in formulas.values() for sid, _ in formula.components})
    screens = {}
    for patient_id, serum_id in pairs:
        profile, formula = profiles.get(patient_id), formulas.get(serum_id)
        if profile is None or formula is None:
            continue
        components = [
            ScreenComponent(substance_id, name, tuple(reach.get(substance_id, ())))
            for substance_id, name in formula.components
        ]
        screens[patient_id, serum_id] = screen_serum(profile, components, groups=groups)
    return screens


def cross_reactivity_facts() -> list[CrossReactivityFact]:
    groups = db.session.scalars(
        select(CrossReactivityGroup).options(selectinload(CrossReactivityGroup.members))
    ).all()
    return [
        CrossReactivityFact(g.id, g.name, frozenset(m.id for m in g.members), g.note)
        for g in groups
    ]


def _allergies(patient: Patient) -> list[Allergy]:
    return db.session.scalars(
        select(Allergy)
        .where(Allergy.patient_id == patient.id)
        .options(selectinload(Allergy.substance))
        .order_by(Allergy.id)
    ).all()


def _screen_components(components, reach) -> list[ScreenComponent]:
    return [
        ScreenComponent(c.substance_id, c.substance.name, tuple(reach.get(c.substance_id, ())))
        for c in components
    ]

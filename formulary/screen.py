"""The safety screen (SPEC 3.3): a pure function over a patient profile and a serum.

It reads no database: `clinic/` builds the profile, `formulary.graph.lineages` supplies every
class and contained allergen of each substance with the path that links them. The screen's
job is to be right without crying wolf: an allergy counts only through "is a" and "contains"
paths and named cross-reactivity groups, never through a loose family resemblance (a sulfa
allergy says nothing of sulfites, an ester anaesthetic allergy nothing of amides).
"""

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol


class Verdict(enum.StrEnum):
    SAFE = "safe"
    CAUTION = "caution"
    CONTRAINDICATED = "contraindicated"

    @property
    def rank(self) -> int:
        return VERDICT_RANK[self]


VERDICT_RANK = {Verdict.SAFE: 0, Verdict.CAUTION: 1, Verdict.CONTRAINDICATED: 2}


@dataclass(frozen=True)
class Indication:
    up_to: int
    pattern: str


# The most advanced stage treated, by (sex, scale): Norwood IV for men, Ludwig II for women.
INDICATED_STAGES = {
    ("male", "norwood"): Indication(4, "male"),
    ("female", "ludwig"): Indication(2, "female"),
}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII"}
# Hair loss after pregnancy and childbirth: a shedding, not a pattern staged on Norwood or
# Ludwig, so the stage rules do not speak to a course for it (clinic.models.Indication).
UNSTAGED_INDICATIONS = frozenset({"postpartum"})


class Lineage(Protocol):
    """One substance a substance reaches through "is a" and "contains" (itself included)."""

    substance_id: int
    name: str
    path: tuple[str, ...]
    via_contains: bool


@dataclass(frozen=True)
class AllergyFact:
    allergy_id: int | None
    substance_id: int
    substance: str
    criticality: str
    # The allergy's substance and the classes it is in ("is a" only): cross-reactivity groups
    # may name a class rather than the substance itself.
    lineage: tuple[Lineage, ...]


@dataclass(frozen=True)
class ConditionFact:
    code: str
    label: str
    verdict: Verdict
    message: str


@dataclass(frozen=True)
class PatientProfile:
    """What the screen needs to know of a patient. Allergies and conditions are the ones that
    count: active, not refuted, not entered in error; conditions with a rule."""

    sex: str
    alopecia_scale: str | None
    alopecia_stage: int | None
    allergy_status: str
    allergies: tuple[AllergyFact, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()
    # Allergens outside the catalogue, as received, that no doctor has reviewed yet: nothing
    # can be checked against them, so every serum is at least a caution.
    unscreened_allergies: tuple[str, ...] = ()
    # What the serum would treat (a course's indication); None when the screen is not about
    # one course, as in the serum listing, which then applies the stage rules as for
    # androgenetic alopecia.
    indication: str | None = None


@dataclass(frozen=True)
class ScreenComponent:
    substance_id: int
    name: str
    lineage: tuple[Lineage, ...]


@dataclass(frozen=True)
class CrossReactivityFact:
    group_id: int
    name: str
    member_ids: frozenset[int]
    note: str | None = None


@dataclass(frozen=True)
class Reason:
    kind: str  # allergy | cross_reactivity | condition | eligibility | unscreened_allergy
    verdict: Verdict
    component: str | None
    subject: str | None
    path: tuple[str, ...]
    message: str
    allergy_id: int | None = None
    condition: str | None = None

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "verdict": self.verdict.value,
            "component": self.component,
            "subject": self.subject,
            "path": list(self.path),
            "message": self.message,
            "allergy_id": self.allergy_id,
            "condition": self.condition,
        }

    @cached_property
    def shared_dict(self) -> dict:
        """`as_dict()` built once and shared by every serum that gives this reason: a listing
        of thousands of serums repeats the same few reasons. Read it, never change it."""
        return self.as_dict()


@dataclass(frozen=True)
class Screen:
    verdict: Verdict
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {"verdict": self.verdict.value, "reasons": [r.as_dict() for r in self.reasons]}


def screen_serum(
    profile: PatientProfile,
    components: Sequence[ScreenComponent],
    *,
    groups: Sequence[CrossReactivityFact] = (),
) -> Screen:
    """The verdict for one serum, with every reason, strongest first."""
    reasons = [
        *patient_reasons(profile),
        *(r for c in components for r in component_reasons(profile, c, groups=groups)),
    ]
    return screen_from_reasons(reasons)


def patient_reasons(profile: PatientProfile) -> list[Reason]:
    """Reasons that hold for every serum: conditions, eligibility, allergy history."""
    return [
        *_condition_reasons(profile),
        *_eligibility_reasons(profile),
        *_history_reasons(profile),
        *_unscreened_reasons(profile),
    ]


def component_reasons(
    profile: PatientProfile, component: ScreenComponent, *, groups: Sequence[CrossReactivityFact]
) -> list[Reason]:
    """Allergy and cross-reactivity reasons one component raises for this patient. They depend
    only on the substance, so callers screening many serums compute them once per substance."""
    reasons = []
    reach = {lineage.substance_id: lineage for lineage in component.lineage}
    for allergy in profile.allergies:
        direct = reach.get(allergy.substance_id)
        if direct is not None:
            reasons.append(_allergy_reason(allergy, component, direct))
            continue
        cross = _cross_reactivity_reason(allergy, component, groups)
        if cross is not None:
            reasons.append(cross)
    return reasons


def watched_substances(
    profile: PatientProfile, *, groups: Sequence[CrossReactivityFact]
) -> frozenset[int]:
    """The substances a component must reach (itself, its classes, what it contains, any
    depth) to raise an allergy or cross-reactivity reason for this patient: each allergy's
    substance, and every member of each cross-reactivity group that the allergy's substance or
    one of its classes is in. A component that reaches none of them raises no reason in
    `component_reasons`, so a screen of many serums reads only the components that reach one.
    """
    watched = set()
    for allergy in profile.allergies:
        watched.add(allergy.substance_id)
        classes = {link.substance_id for link in allergy.lineage if not link.via_contains}
        for group in groups:
            if group.member_ids & classes:
                watched |= group.member_ids
    return frozenset(watched)


def screen_from_reasons(reasons: Iterable[Reason]) -> Screen:
    """The verdict of a set of reasons (the strongest wins), reasons strongest first (in their
    given order within one verdict)."""
    ordered = tuple(sorted(reasons, key=lambda r: -r.verdict.rank))
    return Screen(ordered[0].verdict if ordered else Verdict.SAFE, ordered)


def _allergy_reason(allergy: AllergyFact, component: ScreenComponent, link: Lineage) -> Reason:
    if len(link.path) == 1:
        how = f"the serum contains {component.name}"
    else:
        how = f"the serum contains {component.name}, and {_path_sentence(link.path)}"
    return Reason(
        kind="allergy",
        verdict=Verdict.CONTRAINDICATED,
        component=component.name,
        subject=allergy.substance,
        path=tuple(link.path),
        message=f"Allergy to {allergy.substance}: {how}.",
        allergy_id=allergy.allergy_id,
    )


def _cross_reactivity_reason(
    allergy: AllergyFact, component: ScreenComponent, groups: Sequence[CrossReactivityFact]
) -> Reason | None:
    # The component belongs to a group directly or through its classes ("is a" only: an
    # allergen merely carried inside is the "contains" rule's business).
    component_classes = {
        link.substance_id: link for link in component.lineage if not link.via_contains
    }
    allergy_classes = {link.substance_id: link for link in allergy.lineage if not link.via_contains}
    for group in groups:
        on_component = [component_classes[m] for m in group.member_ids if m in component_classes]
        on_allergy = [allergy_classes[m] for m in group.member_ids if m in allergy_classes]
        if not on_component or not on_allergy:
            continue
        component_link = min(on_component, key=lambda link: len(link.path))
        allergy_link = min(on_allergy, key=lambda link: len(link.path))
        verdict = Verdict.CONTRAINDICATED if allergy.criticality == "high" else Verdict.CAUTION
        return Reason(
            kind="cross_reactivity",
            verdict=verdict,
            component=component.name,
            subject=allergy.substance,
            path=(*component_link.path, "cross-reacts with", *_reversed_path(allergy_link.path)),
            message=(
                f"Possible cross-reaction with the allergy to {allergy.substance}: "
                f"{_path_sentence(component_link.path, component.name)} and "
                f"{_path_sentence(allergy_link.path, allergy.substance)} are in the "
                f"cross-reactivity group {group.name!r}"
                + (f" ({group.note})" if group.note else "")
                + (". High criticality: do not use." if verdict == Verdict.CONTRAINDICATED else ".")
            ),
            allergy_id=allergy.allergy_id,
        )
    return None


def _path_sentence(path: Sequence[str], fallback: str | None = None) -> str:
    """("procaine", "is a", "ester local anaesthetics") -> "procaine is a ester local
    anaesthetics"; a one-name path is just the name."""
    if len(path) == 1:
        return fallback or path[0]
    return " ".join(path)


def _reversed_path(path: Sequence[str]) -> tuple[str, ...]:
    """The allergy side read from the group member back to the allergy's substance."""
    inverse = {"is a": "includes", "contains": "is contained in"}
    names = list(path[::2])
    relations = [inverse.get(r, r) for r in path[1::2]]
    out = [names[-1]]
    for name, relation in zip(reversed(names[:-1]), reversed(relations), strict=True):
        out += [relation, name]
    return tuple(out)


def _condition_reasons(profile: PatientProfile) -> list[Reason]:
    return [
        Reason(
            kind="condition",
            verdict=condition.verdict,
            component=None,
            subject=condition.label,
            path=(condition.code,),
            message=condition.message,
            condition=condition.code,
        )
        for condition in profile.conditions
        if condition.verdict != Verdict.SAFE
    ]


def _eligibility_reasons(profile: PatientProfile) -> list[Reason]:
    if profile.indication in UNSTAGED_INDICATIONS:
        return []
    stage = profile.alopecia_stage
    if stage is None:
        return [
            _eligibility(
                "no alopecia stage",
                "No alopecia stage is recorded: eligibility for mesotherapy has not been assessed.",
            )
        ]
    indication = INDICATED_STAGES.get((profile.sex, profile.alopecia_scale))
    if indication is None or stage <= indication.up_to:
        return []
    scale = profile.alopecia_scale.capitalize()
    return [
        _eligibility(
            f"{scale} {ROMAN[stage]}",
            f"{scale} stage {ROMAN[stage]} is beyond stage {ROMAN[indication.up_to]}, the most "
            f"advanced {indication.pattern} pattern hair loss mesotherapy is indicated for.",
        )
    ]


def _eligibility(subject: str, message: str) -> Reason:
    return Reason("eligibility", Verdict.CAUTION, None, subject, (), message)


def _history_reasons(profile: PatientProfile) -> list[Reason]:
    if profile.allergy_status != "unknown":
        return []
    return [
        Reason(
            kind="allergy",
            verdict=Verdict.CAUTION,
            component=None,
            subject="allergy history",
            path=(),
            message="Allergy history not taken: no allergy and no 'no known allergies' "
            "statement is recorded.",
        )
    ]


def _unscreened_reasons(profile: PatientProfile) -> list[Reason]:
    return [
        Reason(
            kind="unscreened_allergy",
            verdict=Verdict.CAUTION,
            component=None,
            subject=allergen,
            path=(),
            message=f"{allergen}: not in the catalogue, not checked against this serum's "
            "components.",
        )
        for allergen in profile.unscreened_allergies
    ]

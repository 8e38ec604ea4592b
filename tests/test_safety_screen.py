"""The safety screen of SPEC 3.3, one case per row of its table, as a pure function.

The substance graph here is a small hand-made one; `formulary.graph.lineages` supplies the same
shape from the database (tested with the seeded catalogue in test_patient_safety.py)."""

from collections import deque
from dataclasses import dataclass

import pytest

from formulary.screen import (
    AllergyFact,
    ConditionFact,
    CrossReactivityFact,
    PatientProfile,
    ScreenComponent,
    Verdict,
    screen_serum,
)

IS_A = "is a"
CONTAINS = "contains"

# child, relation, parent
EDGES = [
    ("cyanocobalamin", IS_A, "B vitamins"),
    ("cyanocobalamin", CONTAINS, "cobalt"),
    ("thiamine", IS_A, "B vitamins"),
    ("B vitamins", IS_A, "vitamins"),
    ("procaine", IS_A, "ester local anaesthetics"),
    ("benzocaine", IS_A, "ester local anaesthetics"),
    ("ester local anaesthetics", IS_A, "local anaesthetics"),
    ("lidocaine", IS_A, "amide local anaesthetics"),
    ("amide local anaesthetics", IS_A, "local anaesthetics"),
    ("sodium metabisulfite", IS_A, "sulfites"),
    ("preserved base", CONTAINS, "sodium metabisulfite"),
    ("sulfamethoxazole", IS_A, "sulfonamide antibiotics"),
    ("salmon polynucleotides", CONTAINS, "fish-derived material"),
    ("marine collagen", IS_A, "marine extracts"),
    ("marine extracts", CONTAINS, "fish-derived material"),
]
NAMES = sorted({n for a, _, b in EDGES for n in (a, b)} | {"para-aminobenzoic acid", "biotin"})
IDS = {name: number for number, name in enumerate(NAMES, start=1)}
ESTERS_AND_PABA = CrossReactivityFact(
    1,
    "ester anaesthetics and PABA",
    frozenset({IDS["ester local anaesthetics"], IDS["para-aminobenzoic acid"]}),
)


@dataclass(frozen=True)
class Link:
    substance_id: int
    name: str
    path: tuple[str, ...]
    via_contains: bool


def lineage(name: str) -> tuple[Link, ...]:
    """Breadth-first over both relations: the shortest path to everything a substance reaches."""
    found = {name: Link(IDS[name], name, (name,), False)}
    queue = deque([name])
    while queue:
        current = found[queue.popleft()]
        for child, relation, parent in EDGES:
            if child == current.name and parent not in found:
                found[parent] = Link(
                    IDS[parent],
                    parent,
                    (*current.path, relation, parent),
                    current.via_contains or relation == CONTAINS,
                )
                queue.append(parent)
    return tuple(found.values())


def component(name):
    return ScreenComponent(IDS[name], name, lineage(name))


def allergy(name, criticality="low"):
    return AllergyFact(IDS[name], IDS[name], name, criticality, lineage(name))


def profile(*allergies, conditions=(), sex="male", scale="norwood", stage=3, status="recorded"):
    return PatientProfile(sex, scale, stage, status, tuple(allergies), tuple(conditions))


def screen(patient, *serum):
    return screen_serum(patient, [component(name) for name in serum], groups=[ESTERS_AND_PABA])


SCALP_INFECTION = ConditionFact(
    "scalp_infection", "Scalp infection", Verdict.CONTRAINDICATED, "Infectious scalp lesions."
)
SHINGLES = ConditionFact("shingles", "Shingles", Verdict.CONTRAINDICATED, "Active shingles.")
BLOOD_THINNERS = ConditionFact(
    "blood_thinner_use", "Blood thinners", Verdict.CAUTION, "Hematoma risk; limit before."
)

CASES = [
    # (case, profile, serum, verdict, kind of the strongest reason, its path)
    ("direct allergy to a component", profile(allergy("procaine")), ["procaine"],
     "contraindicated", "allergy", ["procaine"]),
    ("allergy to a class the component is in", profile(allergy("B vitamins")), ["cyanocobalamin"],
     "contraindicated", "allergy", ["cyanocobalamin", "is a", "B vitamins"]),
    ("allergy to a class two levels up", profile(allergy("local anaesthetics")), ["lidocaine"],
     "contraindicated", "allergy",
     ["lidocaine", "is a", "amide local anaesthetics", "is a", "local anaesthetics"]),
    ("allergy to an allergen the component contains", profile(allergy("cobalt")),
     ["cyanocobalamin"], "contraindicated", "allergy", ["cyanocobalamin", "contains", "cobalt"]),
    ("allergy to a class of something the component contains", profile(allergy("sulfites")),
     ["preserved base"], "contraindicated", "allergy",
     ["preserved base", "contains", "sodium metabisulfite", "is a", "sulfites"]),
    ("allergy to an allergen contained by the component's class", profile(allergy("fish-derived material")),
     ["marine collagen"], "contraindicated", "allergy",
     ["marine collagen", "is a", "marine extracts", "contains", "fish-derived material"]),
    ("cross-reactivity of an ester with PABA, low criticality", profile(allergy("para-aminobenzoic acid")),
     ["procaine"], "caution", "cross_reactivity",
     ["procaine", "is a", "ester local anaesthetics", "cross-reacts with", "para-aminobenzoic acid"]),
    ("cross-reactivity with high criticality", profile(allergy("para-aminobenzoic acid", "high")),
     ["benzocaine"], "contraindicated", "cross_reactivity",
     ["benzocaine", "is a", "ester local anaesthetics", "cross-reacts with", "para-aminobenzoic acid"]),
    ("cross-reactivity between two esters of one group", profile(allergy("procaine")),
     ["benzocaine"], "caution", "cross_reactivity",
     ["benzocaine", "is a", "ester local anaesthetics", "cross-reacts with",
      "ester local anaesthetics", "includes", "procaine"]),
    ("active scalp infection", profile(conditions=[SCALP_INFECTION]), ["biotin"],
     "contraindicated", "condition", ["scalp_infection"]),
    ("active shingles", profile(conditions=[SHINGLES]), ["biotin"],
     "contraindicated", "condition", ["shingles"]),
    ("blood thinners", profile(conditions=[BLOOD_THINNERS]), ["biotin"],
     "caution", "condition", ["blood_thinner_use"]),
    ("Norwood IV is within the indication", profile(stage=4), ["biotin"], "safe", None, None),
    ("Norwood V is beyond the indication", profile(stage=5), ["biotin"],
     "caution", "eligibility", []),
    ("Ludwig II is within the indication", profile(sex="female", scale="ludwig", stage=2),
     ["biotin"], "safe", None, None),
    ("Ludwig III is beyond the indication", profile(sex="female", scale="ludwig", stage=3),
     ["biotin"], "caution", "eligibility", []),
    ("no stage recorded", profile(scale=None, stage=None), ["biotin"],
     "caution", "eligibility", []),
    ("allergy history not taken", profile(status="unknown"), ["biotin"],
     "caution", "allergy", []),
    ("no known allergies and nothing else", profile(status="no_known_allergies"), ["biotin"],
     "safe", None, None),
    ("non-rule: a sulfa allergy says nothing of sulfites", profile(allergy("sulfonamide antibiotics")),
     ["sodium metabisulfite", "preserved base"], "safe", None, None),
    ("non-rule: a sulfamethoxazole allergy says nothing of sulfites", profile(allergy("sulfamethoxazole")),
     ["sodium metabisulfite"], "safe", None, None),
    ("non-rule: an ester allergy says nothing of amides", profile(allergy("procaine", "high")),
     ["lidocaine"], "safe", None, None),
    ("non-rule: an ester class allergy says nothing of amides", profile(allergy("ester local anaesthetics")),
     ["lidocaine"], "safe", None, None),
    ("non-rule: a sibling in a class is not the allergen", profile(allergy("cyanocobalamin")),
     ["thiamine"], "safe", None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    "patient, serum, verdict, kind, path", [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_each_row_of_the_screen_table(patient, serum, verdict, kind, path):
    result = screen(patient, *serum)
    assert result.verdict == verdict
    if kind is None:
        assert result.reasons == ()
        return
    top = result.reasons[0]
    assert (top.kind, top.verdict, list(top.path)) == (kind, verdict, path)
    assert top.message.endswith(".")


def test_a_contraindication_outranks_a_caution_and_every_reason_is_kept():
    patient = profile(allergy("cobalt"), conditions=[BLOOD_THINNERS], stage=None)
    result = screen(patient, "cyanocobalamin", "thiamine")
    assert result.verdict == "contraindicated"
    assert [r.kind for r in result.reasons] == ["allergy", "condition", "eligibility"]


def test_the_direct_allergy_row_wins_over_cross_reactivity_for_the_same_component():
    result = screen(profile(allergy("procaine")), "procaine")
    assert [r.kind for r in result.reasons] == ["allergy"]


def test_a_reason_names_the_component_the_allergy_and_reads_as_a_sentence():
    result = screen(profile(allergy("cobalt")), "cyanocobalamin")
    reason = result.reasons[0].as_dict()
    assert reason["component"] == "cyanocobalamin"
    assert reason["subject"] == "cobalt"
    assert reason["allergy_id"] == IDS["cobalt"]
    assert reason["message"] == (
        "Allergy to cobalt: the serum contains cyanocobalamin, and cyanocobalamin contains cobalt."
    )


def test_a_serum_with_nothing_against_it_is_safe():
    assert screen(profile(), "biotin", "thiamine").as_dict() == {"verdict": "safe", "reasons": []}

"""`flask seed`: the starter catalogue of SPEC 3.1 and the demo serums, loaded idempotently."""

import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.database import db
from formulary.graph import cross_reactivity_groups_of, lineages
from formulary.models import (
    Category,
    CrossReactivityGroup,
    Serum,
    SerumStatus,
    Substance,
    SubstanceLineage,
    SubstanceRelation,
    SubstanceSynonym,
)
from formulary.seed import load_catalogue, seed_catalogue
from formulary.substances import find_substance_by_name
from tests import factories

SERUM_CATEGORIES = {
    "amino_acid",
    "vitamin",
    "trace_element",
    "antioxidant",
    "enzyme",
    "nucleic_acid",
}


@pytest.fixture
def catalogue(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    return result


def reaches(name: str, ancestor: str) -> tuple[str, ...] | None:
    """The path from a substance (by any of its names) to an ancestor, or None."""
    substance = find_substance_by_name(name)
    for lineage in lineages([substance.id])[substance.id]:
        if lineage.name == ancestor:
            return lineage.path
    return None


def group_links(name: str, other: str) -> bool:
    """Whether a cross-reactivity group holds both substances (or classes above them)."""
    first, second = find_substance_by_name(name), find_substance_by_name(other)
    groups = cross_reactivity_groups_of([first.id, second.id])
    return bool({m.group_id for m in groups[first.id]} & {m.group_id for m in groups[second.id]})


def row_counts() -> dict:
    tables = (Substance, SubstanceSynonym, SubstanceRelation, SubstanceLineage)
    counts = {
        t.__tablename__: db.session.scalar(select(func.count()).select_from(t)) for t in tables
    }
    counts["groups"] = db.session.scalar(select(func.count()).select_from(CrossReactivityGroup))
    counts["serums"] = db.session.scalar(select(func.count()).select_from(Serum))
    counts["audit"] = db.session.scalar(select(func.count()).select_from(AuditEntry))
    return counts


def test_the_catalogue_holds_at_least_40_substances_in_every_serum_category(catalogue):
    assert db.session.scalar(select(func.count()).select_from(Substance)) >= 40
    present = set(db.session.scalars(select(Substance.category).distinct()))
    assert {Category(c) for c in SERUM_CATEGORIES} <= present
    for name in (
        "sodium chloride",
        "hyaluronic acid",
        "benzyl alcohol",
        "methylparaben",
        "propylparaben",
        "sodium metabisulfite",
    ):
        assert find_substance_by_name(name).category is Category.EXCIPIENT, name
    for name in ("procaine", "benzocaine", "lidocaine", "mepivacaine"):
        assert find_substance_by_name(name).category is Category.ANAESTHETIC, name


def test_cyanocobalamin_contains_cobalt(catalogue):
    assert reaches("cyanocobalamin", "cobalt") == ("cyanocobalamin", "contains", "cobalt")


def test_procaine_and_benzocaine_are_ester_local_anaesthetics(catalogue):
    assert reaches("procaine", "ester local anaesthetics") == (
        "procaine",
        "is a",
        "ester local anaesthetics",
    )
    assert reaches("benzocaine", "ester local anaesthetics")


def test_ester_local_anaesthetics_cross_react_with_para_aminobenzoic_acid(catalogue):
    assert group_links("ester local anaesthetics", "para-aminobenzoic acid")
    assert group_links("Novocain", "PABA")


def test_lidocaine_and_mepivacaine_are_amides_that_do_not_cross_react_with_esters(catalogue):
    for amide in ("lidocaine", "mepivacaine"):
        assert reaches(amide, "amide local anaesthetics"), amide
        assert reaches(amide, "ester local anaesthetics") is None, amide
        assert not group_links(amide, "procaine"), amide
        assert not group_links(amide, "para-aminobenzoic acid"), amide


def test_sodium_metabisulfite_is_a_sulfite_and_sulfonamides_are_not_linked_to_it(catalogue):
    assert reaches("sodium metabisulfite", "sulfites")
    assert reaches("sulfamethoxazole", "sulfonamide antibiotics")
    assert reaches("sodium metabisulfite", "sulfonamide antibiotics") is None
    assert not group_links("sulfamethoxazole", "sodium metabisulfite")


def test_methylparaben_and_propylparaben_are_parabens(catalogue):
    assert reaches("methylparaben", "parabens")
    assert reaches("propylparaben", "parabens")


def test_dexpanthenol_and_thiamine_are_b_vitamins(catalogue):
    assert reaches("dexpanthenol", "B vitamins")
    assert reaches("Bepanthen", "B vitamins")
    assert reaches("thiamine", "B vitamins")


def test_salmon_polynucleotides_contain_fish_derived_material(catalogue):
    path = reaches("salmon polynucleotides", "fish-derived material")
    assert path == ("polynucleotides (salmon origin)", "contains", "fish-derived material")


def test_hyaluronidase_is_an_enzyme(catalogue):
    assert find_substance_by_name("hyaluronidase").category is Category.ENZYME


def test_common_synonyms_find_their_substance(catalogue):
    expected = {
        "B12": "cyanocobalamin",
        "Novocain": "procaine",
        "xylocaine": "lidocaine",
        "panthenol": "dexpanthenol",
        "vitamin B1": "thiamine",
        "vitamin H": "biotin",
        "B7": "biotin",
        "sulfa": "sulfonamide antibiotics",
    }
    for synonym, name in expected.items():
        assert find_substance_by_name(synonym).name == name, synonym


def test_every_relation_of_the_catalogue_has_a_source_note(catalogue):
    sources = db.session.scalars(select(SubstanceRelation.source))
    assert all(source and source.strip() for source in sources)
    assert len(load_catalogue()["relations"]) == db.session.scalar(
        select(func.count()).select_from(SubstanceRelation)
    )


def test_seeding_twice_changes_nothing(runner, catalogue):
    before = row_counts()
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0, second.output
    assert "0 substances, 0 synonyms, 0 codes, 0 relations" in second.output
    assert row_counts() == before


def test_seeding_leaves_a_pharmacists_edits_alone():
    seed_catalogue()
    lidocaine = find_substance_by_name("lidocaine")
    lidocaine.max_concentration_value = 10
    db.session.flush()
    report = seed_catalogue()
    assert report.substances == report.relations == 0
    assert lidocaine.max_concentration_value == 10


def test_seed_demo_adds_approved_serums_written_and_approved_by_two_people(runner):
    first = runner.invoke(args=["seed", "--demo"])
    assert first.exit_code == 0, first.output
    demo = db.session.scalars(select(Serum).order_by(Serum.code)).all()
    assert 3 <= len(demo) <= 5
    assert all(s.status is SerumStatus.APPROVED for s in demo)
    assert all(
        s.author.username == "pharmacist" and s.approved_by.username == "admin" for s in demo
    )
    components = {c.substance.name for s in demo for c in s.components}
    assert {"lidocaine", "polynucleotides (salmon origin)", "hyaluronic acid"} <= components
    before = row_counts()
    assert runner.invoke(args=["seed", "--demo"]).exit_code == 0
    assert row_counts() == before


def test_seed_without_demo_adds_no_serums(catalogue):
    assert db.session.scalar(select(func.count()).select_from(Serum)) == 0


def test_a_catalogue_relation_that_would_make_a_cycle_is_reported_not_forced():
    top = factories.make_class("B vitamins", category="vitamin")
    factories.make_class("vitamins", category="vitamin", parents=[top.id])
    catalogue = {
        "substances": [{"name": "vitamins", "category": "vitamin", "is_class": True}],
        "relations": [
            {"substance": "B vitamins", "relation": "is a", "related": "vitamins", "source": "x"}
        ],
        "cross_reactivity_groups": [],
    }
    report = seed_catalogue(catalogue)
    assert report.relations == 0
    assert "would make a cycle" in report.skipped[0]

"""The substance graph: acyclic "is a" and "contains" relations, and lineage look-ups that take
a fixed number of queries."""

import pytest
from sqlalchemy import insert, select

from core.database import db
from core.errors import Invalid
from formulary import graph
from formulary.graph import Lineage, cross_reactivity_groups_of, lineages
from formulary.models import Substance, SubstanceLineage, SubstanceRelation
from formulary.substances import update_substance
from tests import factories


def by_name(items):
    return {lineage.name: lineage for lineage in items}


def test_a_substance_reaches_its_classes_at_any_depth():
    anaesthetics = factories.make_class("local anaesthetics", category="anaesthetic")
    esters = factories.make_class(
        "ester local anaesthetics", category="anaesthetic", parents=[anaesthetics.id]
    )
    procaine = factories.make_substance("procaine", category="anaesthetic", parents=[esters.id])

    found = by_name(lineages([procaine.id])[procaine.id])

    assert found["procaine"] == Lineage(procaine.id, "procaine", False, ("procaine",), False)
    assert found["ester local anaesthetics"].path == (
        "procaine",
        "is a",
        "ester local anaesthetics",
    )
    assert found["local anaesthetics"] == Lineage(
        anaesthetics.id,
        "local anaesthetics",
        True,
        ("procaine", "is a", "ester local anaesthetics", "is a", "local anaesthetics"),
        False,
    )


def test_a_substance_reaches_what_it_contains_and_the_classes_of_that():
    metals = factories.make_class("metals", category="trace_element")
    cobalt = factories.make_substance("cobalt", category="trace_element", parents=[metals.id])
    cobalamin = factories.make_substance("cyanocobalamin", contains=[cobalt.id])

    found = by_name(lineages([cobalamin.id])[cobalamin.id])

    assert found["cobalt"].path == ("cyanocobalamin", "contains", "cobalt")
    assert found["cobalt"].via_contains is True
    assert found["metals"].path == ("cyanocobalamin", "contains", "cobalt", "is a", "metals")
    assert found["metals"].via_contains is True


def test_a_member_of_a_class_reaches_what_the_class_contains():
    fish = factories.make_class("fish-derived material")
    salmon_products = factories.make_class("salmon-derived products", contains=[fish.id])
    polynucleotides = factories.make_substance(
        "polynucleotides", category="nucleic_acid", parents=[salmon_products.id]
    )

    found = by_name(lineages([polynucleotides.id])[polynucleotides.id])

    assert found["fish-derived material"].path == (
        "polynucleotides",
        "is a",
        "salmon-derived products",
        "contains",
        "fish-derived material",
    )
    assert found["fish-derived material"].via_contains is True
    assert found["salmon-derived products"].via_contains is False


def test_the_path_given_is_a_shortest_one():
    top = factories.make_class("top")
    middle = factories.make_class("middle", parents=[top.id])
    substance = factories.make_substance("leaf", parents=[middle.id, top.id])
    assert by_name(lineages([substance.id])[substance.id])["top"].path == ("leaf", "is a", "top")


def test_unknown_ids_are_left_out_of_the_lineages():
    substance = factories.make_substance()
    assert set(lineages([substance.id, 999999])) == {substance.id}
    assert lineages([]) == {}


def test_lineages_follow_a_relation_removed_later():
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    thiamine = factories.make_substance("thiamine", parents=[b_vitamins.id])
    update_substance(thiamine, {"parents": []})
    assert [item.name for item in lineages([thiamine.id])[thiamine.id]] == ["thiamine"]


def test_a_new_relation_above_reaches_every_substance_below():
    vitamins = factories.make_class("vitamins", category="vitamin")
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    thiamine = factories.make_substance("thiamine", parents=[b_vitamins.id])
    update_substance(b_vitamins, {"parents": [vitamins.id]})
    assert by_name(lineages([thiamine.id])[thiamine.id])["vitamins"].path == (
        "thiamine",
        "is a",
        "B vitamins",
        "is a",
        "vitamins",
    )


def test_a_parent_that_would_make_a_cycle_is_refused_naming_the_cycle():
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    cobalamin = factories.make_substance("cyanocobalamin", parents=[b_vitamins.id])
    with pytest.raises(Invalid) as refused:
        update_substance(b_vitamins, {"parents": [cobalamin.id]})
    assert refused.value.errors == {
        "parents": [
            "B vitamins is a cyanocobalamin would make a cycle: "
            "cyanocobalamin -> B vitamins -> cyanocobalamin"
        ]
    }


def test_a_contains_that_would_make_a_cycle_through_is_a_edges_is_refused(client, login_as):
    carrier = factories.make_substance("carrier")
    group = factories.make_class("group", parents=[])
    allergen = factories.make_substance("allergen", parents=[group.id])
    update_substance(carrier, {"contains": [allergen.id]})
    db.session.commit()
    response = client.patch(
        f"/api/substances/{group.id}",
        headers=login_as("pharmacist"),
        json={"contains": [carrier.id]},
    )
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["contains"]
    assert message == (
        "group contains carrier would make a cycle: carrier -> allergen -> group -> carrier"
    )


def test_a_substance_cannot_be_its_own_parent(client, login_as):
    substance = factories.make_substance("thiamine")
    response = client.patch(
        f"/api/substances/{substance.id}",
        headers=login_as("pharmacist"),
        json={"parents": [substance.id]},
    )
    assert response.status_code == 422
    assert "thiamine -> thiamine" in response.get_json()["errors"]["parents"][0]


def test_a_refused_cycle_changes_nothing(client, login_as):
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    cobalamin = factories.make_substance("cyanocobalamin", parents=[b_vitamins.id])
    client.patch(
        f"/api/substances/{b_vitamins.id}",
        headers=login_as("pharmacist"),
        json={"parents": [cobalamin.id], "synonyms": ["Bs"]},
    )
    db.session.expire_all()
    assert b_vitamins.parents == [] and b_vitamins.synonyms == []
    assert [item.name for item in lineages([b_vitamins.id])[b_vitamins.id]] == ["B vitamins"]


def test_a_substance_cannot_both_be_and_contain_the_same_thing():
    other = factories.make_substance("other")
    substance = factories.make_substance("substance", parents=[other.id])
    with pytest.raises(Invalid, match="both be and contain"):
        update_substance(substance, {"contains": [other.id]})


def test_an_edge_may_switch_from_is_a_to_contains_in_one_change():
    other = factories.make_substance("other")
    substance = factories.make_substance("substance", parents=[other.id])
    update_substance(substance, {"parents": [], "contains": [other.id]})
    assert by_name(lineages([substance.id])[substance.id])["other"].via_contains is True


def test_cross_reactivity_groups_are_found_through_the_classes_of_a_substance():
    esters = factories.make_class("ester local anaesthetics", category="anaesthetic")
    paba = factories.make_substance("para-aminobenzoic acid", category="other")
    procaine = factories.make_substance("procaine", category="anaesthetic", parents=[esters.id])
    lidocaine = factories.make_substance("lidocaine", category="anaesthetic")
    group = factories.make_cross_reactivity_group("esters and PABA", members=[esters, paba])

    found = cross_reactivity_groups_of([procaine.id, lidocaine.id, paba.id])

    [match] = found[procaine.id]
    assert (match.group_id, match.member.name) == (group.id, "ester local anaesthetics")
    assert match.member.path == ("procaine", "is a", "ester local anaesthetics")
    assert found[lidocaine.id] == []
    assert found[paba.id][0].member.path == ("para-aminobenzoic acid",)


def _bulk_catalogue(size: int) -> list[int]:
    """`size` substances, each in one of 10 classes below a common class, and each containing
    one of 5 allergens of an allergen class: written in bulk, then the closure rebuilt once."""
    top = factories.make_class("everything")
    allergen_class = factories.make_class("allergens")
    classes = [factories.make_class(f"class {n}", parents=[top.id]) for n in range(10)]
    allergens = [
        factories.make_substance(f"allergen {n}", parents=[allergen_class.id]) for n in range(5)
    ]
    ids = [
        row.id
        for row in db.session.execute(
            insert(Substance).returning(Substance.id),
            [
                {"name": f"bulk {n}", "name_key": f"bulk {n}", "category": "other"}
                for n in range(size)
            ],
        )
    ]
    edges = []
    for n, substance_id in enumerate(ids):
        edges.append(
            {"substance_id": substance_id, "related_id": classes[n % 10].id, "kind": "is_a"}
        )
        edges.append(
            {"substance_id": substance_id, "related_id": allergens[n % 5].id, "kind": "contains"}
        )
    db.session.execute(insert(SubstanceRelation), edges)
    graph.rebuild_lineage()
    db.session.commit()
    return ids


def test_lineages_of_1000_substances_take_one_query(count_queries):
    ids = _bulk_catalogue(1000)

    with count_queries() as few:
        small = lineages(ids[:3])
    with count_queries() as many:
        found = lineages(ids)

    assert many.count == few.count == 1
    assert len(found) == 1000
    lineage = by_name(found[ids[7]])
    assert set(lineage) == {"bulk 7", "class 7", "everything", "allergen 2", "allergens"}
    assert lineage["allergens"].path == ("bulk 7", "contains", "allergen 2", "is a", "allergens")
    assert small[ids[0]] == found[ids[0]]


def test_cross_reactivity_groups_of_1000_substances_take_two_queries(count_queries):
    ids = _bulk_catalogue(1000)
    with count_queries() as counted:
        cross_reactivity_groups_of(ids)
    assert counted.count == 2


def test_a_rebuilt_closure_equals_the_one_kept_on_every_write():
    top = factories.make_class("top")
    middle = factories.make_class("middle", parents=[top.id])
    allergen = factories.make_substance("allergen", parents=[top.id])
    factories.make_substance("leaf", parents=[middle.id], contains=[allergen.id])

    def rows():
        return set(db.session.execute(select(SubstanceLineage.__table__)).all())

    kept = rows()
    graph.rebuild_lineage()
    assert rows() == kept

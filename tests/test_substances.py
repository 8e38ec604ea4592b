"""The substance catalogue (SPEC 3.1): categories, classes, synonyms, relations, maximum
concentration, search, and who may change it."""

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.database import db
from core.errors import Conflict
from formulary.substances import (
    closest_substance_names,
    create_substance,
    find_substance_by_name,
)
from tests import factories


def test_a_pharmacist_adds_a_substance_with_synonyms_relations_and_a_maximum(client, login_as):
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    cobalt = factories.make_substance("cobalt", category="trace_element")
    response = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={
            "name": "cyanocobalamin",
            "category": "vitamin",
            "synonyms": ["B12", "vitamin B12"],
            "parents": [b_vitamins.id],
            "contains": [cobalt.id],
            "max_concentration_per_ml": {"value": 1, "unit": "mg"},
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "name": "cyanocobalamin",
        "category": "vitamin",
        "is_class": False,
        "synonyms": ["B12", "vitamin B12"],
        "codes": [],
        "parents": [b_vitamins.id],
        "contains": [cobalt.id],
        "max_concentration_per_ml": {"value": 1.0, "unit": "mg"},
        "note": None,
    }
    assert client.get(f"/api/substances/{body['id']}", headers=login_as("doctor")).json == body


def test_a_substance_may_be_a_class(client, login_as):
    response = client.post(
        "/api/substances",
        headers=login_as("admin"),
        json={"name": "parabens", "category": "excipient", "is_class": True},
    )
    assert response.status_code == 201
    assert response.get_json()["is_class"] is True


def test_the_category_must_be_one_of_the_nine(client, login_as):
    response = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={"name": "unobtainium", "category": "magic"},
    )
    assert response.status_code == 422
    assert "category" in response.get_json()["errors"]


def test_names_are_unique_whatever_their_case(client, login_as):
    factories.make_substance("Biotin")
    response = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={"name": "biotin", "category": "vitamin"},
    )
    assert response.status_code == 409
    assert "name" in response.get_json()["errors"]


def test_a_synonym_cannot_name_a_second_substance():
    factories.make_substance("procaine", category="anaesthetic", synonyms=["Novocain"])
    with pytest.raises(Conflict, match="procaine"):
        create_substance("benzocaine", "anaesthetic", synonyms=["novocain"])
    with pytest.raises(Conflict, match="procaine"):
        create_substance("Novocain", "anaesthetic")


def test_an_unknown_unit_for_the_maximum_is_refused_naming_the_field(client, login_as):
    response = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={
            "name": "lidocaine",
            "category": "anaesthetic",
            "max_concentration_per_ml": {"value": 20, "unit": "teaspoon"},
        },
    )
    assert response.status_code == 422
    assert "max_concentration_per_ml" in response.get_json()["errors"]


def test_a_zero_or_negative_maximum_is_refused(client, login_as):
    response = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={
            "name": "lidocaine",
            "category": "anaesthetic",
            "max_concentration_per_ml": {"value": 0, "unit": "mg"},
        },
    )
    assert response.status_code == 422
    assert "max_concentration_per_ml.value" in response.get_json()["errors"]


def test_unknown_parent_ids_are_a_422_naming_the_field(client, login_as):
    response = client.post(
        "/api/substances",
        headers=login_as("pharmacist"),
        json={"name": "thiamine", "category": "vitamin", "parents": [999999]},
    )
    assert response.status_code == 422
    assert "999999" in response.get_json()["errors"]["parents"][0]


def test_patch_replaces_synonyms_and_relations_and_keeps_the_rest(client, login_as):
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    vitamins = factories.make_class("vitamins", category="vitamin")
    thiamine = factories.make_substance("thiamine", synonyms=["B1"], parents=[vitamins.id])
    response = client.patch(
        f"/api/substances/{thiamine.id}",
        headers=login_as("pharmacist"),
        json={"synonyms": ["vitamin B1", "aneurine"], "parents": [b_vitamins.id]},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["synonyms"] == ["aneurine", "vitamin B1"]
    assert body["parents"] == [b_vitamins.id]
    assert body["name"] == "thiamine" and body["category"] == "vitamin"
    assert find_substance_by_name("B1") is None
    assert find_substance_by_name("Aneurine").id == thiamine.id


def test_a_relation_change_is_in_the_audit_log_with_the_pharmacist(client, login_as):
    b_vitamins = factories.make_class("B vitamins", category="vitamin")
    thiamine = factories.make_substance("thiamine")
    pharmacist = factories.make_user(role="pharmacist", username="keeper")
    client.patch(
        f"/api/substances/{thiamine.id}",
        headers=login_as(pharmacist),
        json={"parents": [b_vitamins.id]},
    )
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.entity == "substance_relations")
        .order_by(AuditEntry.id.desc())
    )
    assert entry.username == "keeper" and entry.action == "create"
    assert entry.changes["related_id"] == b_vitamins.id and entry.changes["kind"] == "is_a"


def test_a_doctor_reads_the_catalogue_but_cannot_change_it(client, login_as):
    substance = factories.make_substance()
    doctor = login_as("doctor")
    assert client.get("/api/substances", headers=doctor).status_code == 200
    assert client.get(f"/api/substances/{substance.id}", headers=doctor).status_code == 200
    assert client.post("/api/substances", headers=doctor, json={"name": "x"}).status_code == 403
    assert (
        client.patch(f"/api/substances/{substance.id}", headers=doctor, json={}).status_code == 403
    )


def test_an_unknown_substance_id_is_a_404(client, login_as):
    assert client.get("/api/substances/999999", headers=login_as("doctor")).status_code == 404


def test_search_matches_names_and_synonyms_whatever_the_case(client, login_as):
    procaine = factories.make_substance("procaine", category="anaesthetic", synonyms=["Novocain"])
    lidocaine = factories.make_substance(
        "lidocaine", category="anaesthetic", synonyms=["Xylocaine"]
    )
    factories.make_substance("biotin", synonyms=["vitamin H"])
    headers = login_as("doctor")

    def names(query):
        return [s["name"] for s in client.get(f"/api/substances?{query}", headers=headers).json]

    assert names("q=NOVO") == [procaine.name]
    assert names("q=caine") == [lidocaine.name, procaine.name]
    assert names("q=xylo") == [lidocaine.name]
    assert names("q=%25") == []  # a LIKE wildcard is searched for literally


def test_search_filters_by_category(client, login_as):
    factories.make_substance("glycine", category="amino_acid")
    factories.make_substance("biotin", category="vitamin")
    response = client.get("/api/substances?category=amino_acid", headers=login_as("doctor"))
    assert [s["name"] for s in response.json] == ["glycine"]
    assert response.headers["X-Pagination"]


def test_listing_substances_takes_the_same_queries_for_5_or_50(client, login_as, queries_of_get):
    headers = login_as("doctor")
    parent = factories.make_class("family")

    def make(n):
        for _ in range(n):
            factories.make_substance(
                category="amino_acid", synonyms=[factories.unique("syn ")], parents=[parent.id]
            )

    def queries():
        count, response = queries_of_get("/api/substances?category=amino_acid", headers=headers)
        return count, len(response.json)

    make(5)
    few, listed = queries()
    assert listed == 5
    make(45)
    many, listed = queries()
    assert listed == 50
    assert few == many


def test_a_name_or_synonym_finds_its_substance_whatever_the_case():
    cobalamin = factories.make_substance("cyanocobalamin", synonyms=["B12", "vitamin B12"])
    assert find_substance_by_name("b12") is cobalamin
    assert find_substance_by_name("  Vitamin   b12 ") is cobalamin
    assert find_substance_by_name("CYANOCOBALAMIN") is cobalamin
    assert find_substance_by_name("B6") is None


def test_an_unknown_name_suggests_the_closest_catalogue_names():
    factories.make_substance("procaine", category="anaesthetic", synonyms=["Novocain"])
    factories.make_substance("lidocaine", category="anaesthetic")
    factories.make_substance("biotin")
    assert closest_substance_names("novocaine")[0] == "Novocain"
    assert "procaine" in closest_substance_names("prokaine")
    assert "biotin" not in closest_substance_names("prokaine")

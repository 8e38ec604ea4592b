"""Serum formulas (SPEC 3.2): versions, drafts, four-eyes approval, units and concentrations."""

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.database import db
from core.errors import Conflict, Invalid
from formulary import serums, units
from formulary.models import Serum, SerumStatus
from tests import factories


def components_json(*triples):
    return [
        {"substance_id": s.id, "amount_per_dose": {"value": value, "unit": unit}}
        for s, value, unit in triples
    ]


def test_a_new_serum_is_version_1_a_draft_written_by_the_caller(client, login_as):
    biotin = factories.make_substance("biotin")
    pharmacist = factories.make_user(role="pharmacist", username="anna")
    response = client.post(
        "/api/serums",
        headers=login_as(pharmacist),
        json={
            "code": "HAIR-1",
            "name": "Hair vitamin cocktail",
            "source": "compounded",
            "dose_volume_ml": 2,
            "components": components_json((biotin, 1, "mg")),
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in ("code", "version", "status", "author", "approved_by")} == {
        "code": "HAIR-1",
        "version": 1,
        "status": "draft",
        "author": "anna",
        "approved_by": None,
    }
    assert body["dose_volume_ml"] == 2.0 and body["manufacturer"] is None
    assert body["components"] == [
        {
            "substance_id": biotin.id,
            "substance": "biotin",
            "amount_per_dose": {"value": 1.0, "unit": "mg"},
            "concentration_per_ml": {"value": 0.5, "unit": "mg"},
        }
    ]


def test_the_concentration_per_ml_is_the_amount_over_the_dose_volume_in_the_amounts_unit():
    biotin = factories.make_substance()
    serum = factories.make_serum(components=[(biotin, Decimal("500"), "mcg")], dose_volume_ml=4)
    [component] = serum.components
    assert component.amount_per_dose == units.Amount(Decimal(500), "ug")
    assert component.concentration_per_ml == units.Amount(Decimal(125), "ug")


def test_a_manufactured_serum_names_its_manufacturer(client, login_as):
    response = client.post(
        "/api/serums",
        headers=login_as("pharmacist"),
        json={"code": "PN", "name": "PN", "source": "manufactured", "dose_volume_ml": 2},
    )
    assert response.status_code == 422
    assert "manufacturer" in response.get_json()["errors"]


def test_an_unknown_unit_is_a_422_naming_the_component(client, login_as):
    biotin = factories.make_substance("biotin")
    thiamine = factories.make_substance("thiamine")
    response = client.post(
        "/api/serums",
        headers=login_as("pharmacist"),
        json={
            "code": "X",
            "name": "X",
            "source": "compounded",
            "dose_volume_ml": 2,
            "components": components_json((biotin, 1, "mg"), (thiamine, 1, "spoonful")),
        },
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == ["components.1.amount_per_dose"]
    assert "thiamine" in errors["components.1.amount_per_dose"][0]


def test_every_bad_field_of_a_component_is_named_by_its_position(client, login_as):
    biotin = factories.make_substance("biotin")
    response = client.post(
        "/api/serums",
        headers=login_as("pharmacist"),
        json={
            "code": "X",
            "name": "X",
            "source": "compounded",
            "dose_volume_ml": 0,
            "components": [
                {"substance_id": biotin.id, "amount_per_dose": {"value": -1, "unit": "mg"}},
                {"substance_id": 999999, "amount_per_dose": {"value": 1, "unit": "mg"}},
            ],
        },
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "components.0.amount_per_dose.value" in errors
    assert "dose_volume_ml" in errors


def test_unknown_substances_classes_and_repeats_are_refused_naming_the_component():
    biotin = factories.make_substance("biotin")
    b_vitamins = factories.make_class("B vitamins")
    with pytest.raises(Invalid) as refused:
        factories.make_serum(
            components=[(biotin, 1, "mg"), (b_vitamins, 1, "mg"), (biotin, 2, "mg")]
        )
    errors = refused.value.errors
    assert "class" in errors["components.1.substance_id"][0]
    assert "twice" in errors["components.2.substance_id"][0]


@pytest.mark.parametrize("spelling", ["mg", "ug", "µg", "mcg", "g", "mL", "ml", "IU"])
def test_the_units_a_pharmacist_writes_are_accepted(spelling):
    serum = factories.make_serum(components=[(factories.make_substance(), 1, spelling)])
    assert serum.components[0].amount_unit in units.UNITS


def test_international_units_convert_only_to_international_units():
    assert units.convert(units.amount(5, "IU"), "iu") == units.Amount(Decimal(5), "IU")
    assert units.convert(units.amount("1.5", "mg"), "ug").value == Decimal(1500)
    with pytest.raises(units.UnitError):
        units.convert(units.amount(5, "IU"), "mg")
    with pytest.raises(units.UnitError):
        units.convert(units.amount(5, "mg"), "mL")


def test_the_author_cannot_approve_their_own_draft(client, login_as):
    author = factories.make_user(role="pharmacist")
    serum = factories.make_serum(author=author, components=[(factories.make_substance(), 1, "mg")])
    response = client.post(f"/api/serums/{serum.id}/approve", headers=login_as(author))
    assert response.status_code == 409
    assert "four-eyes" in response.get_json()["message"]
    db.session.expire_all()
    assert serum.status is SerumStatus.DRAFT


def test_a_second_person_approves_a_draft(client, login_as):
    serum = factories.make_serum(components=[(factories.make_substance(), 1, "mg")])
    approver = factories.make_user(role="admin", username="chief")
    response = client.post(f"/api/serums/{serum.id}/approve", headers=login_as(approver))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["approved_by"]) == ("approved", "chief")


def test_a_serum_without_components_cannot_be_approved(client, login_as):
    serum = factories.make_serum()
    response = client.post(f"/api/serums/{serum.id}/approve", headers=login_as("admin"))
    assert response.status_code == 422
    assert "components" in response.get_json()["errors"]


def test_approval_is_refused_above_a_substances_maximum_concentration_naming_it(client, login_as):
    lidocaine = factories.make_substance(
        "lidocaine", category="anaesthetic", max_concentration_per_ml={"value": 20, "unit": "mg"}
    )
    biotin = factories.make_substance("biotin")
    serum = factories.make_serum(
        components=[(biotin, 1, "mg"), (lidocaine, Decimal("0.05"), "g")], dose_volume_ml=2
    )
    response = client.post(f"/api/serums/{serum.id}/approve", headers=login_as("admin"))
    assert response.status_code == 422
    body = response.get_json()
    [message] = body["errors"]["components.1.amount_per_dose"]
    assert "lidocaine" in message and "25 mg per mL" in message and "20 mg" in message
    assert "lidocaine" in body["message"]


def test_a_concentration_at_the_maximum_is_approved():
    lidocaine = factories.make_substance(
        "lidocaine", category="anaesthetic", max_concentration_per_ml={"value": 20, "unit": "mg"}
    )
    serum = factories.make_approved_serum(components=[(lidocaine, 40000, "ug")], dose_volume_ml=2)
    assert serum.status is SerumStatus.APPROVED


def test_an_amount_that_cannot_be_compared_with_the_maximum_is_refused_at_approval():
    hyaluronidase = factories.make_substance(
        "hyaluronidase", category="enzyme", max_concentration_per_ml={"value": 150, "unit": "IU"}
    )
    serum = factories.make_serum(components=[(hyaluronidase, 1, "mg")])
    with pytest.raises(Invalid) as refused:
        serums.approve(serum, factories.make_user(role="admin"))
    assert "hyaluronidase" in refused.value.errors["components.0.amount_per_dose"][0]


def test_an_approved_version_cannot_be_edited(client, login_as):
    serum = factories.make_approved_serum()
    response = client.patch(
        f"/api/serums/{serum.id}", headers=login_as("pharmacist"), json={"name": "new"}
    )
    assert response.status_code == 409
    assert "only a draft" in response.get_json()["message"]


def test_a_retired_version_cannot_be_edited_or_approved():
    serum = factories.make_approved_serum()
    serums.retire(serum)
    with pytest.raises(Conflict):
        serums.update_draft(serum, {"name": "new"})
    with pytest.raises(Conflict):
        serums.approve(serum, factories.make_user(role="admin"))


def test_a_draft_is_edited_and_its_components_replaced(client, login_as):
    biotin = factories.make_substance("biotin")
    thiamine = factories.make_substance("thiamine")
    serum = factories.make_serum(components=[(biotin, 1, "mg"), (thiamine, 2, "mg")])
    response = client.patch(
        f"/api/serums/{serum.id}",
        headers=login_as("pharmacist"),
        json={
            "name": "Renamed",
            "dose_volume_ml": 4,
            "components": components_json((thiamine, 8, "mg"), (biotin, 1, "mg")),
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == "Renamed"
    assert [(c["substance"], c["concentration_per_ml"]["value"]) for c in body["components"]] == [
        ("thiamine", 2.0),
        ("biotin", 0.25),
    ]


def test_a_new_version_is_a_draft_copy_with_the_next_number(client, login_as):
    first = factories.make_approved_serum(code="HAIR")
    pharmacist = factories.make_user(role="pharmacist", username="bob")
    response = client.post(f"/api/serums/{first.id}/versions", headers=login_as(pharmacist))
    assert response.status_code == 201
    body = response.get_json()
    assert (body["code"], body["version"], body["status"], body["author"]) == (
        "HAIR",
        2,
        "draft",
        "bob",
    )
    assert [c["substance_id"] for c in body["components"]] == [
        c.substance_id for c in first.components
    ]
    assert body["id"] != first.id


def test_only_one_draft_of_a_serum_at_a_time(client, login_as):
    first = factories.make_approved_serum(code="HAIR")
    headers = login_as("pharmacist")
    assert client.post(f"/api/serums/{first.id}/versions", headers=headers).status_code == 201
    again = client.post(f"/api/serums/{first.id}/versions", headers=headers)
    assert again.status_code == 409
    assert "has a draft already" in again.get_json()["message"]


def test_approving_a_new_version_retires_the_previous_one_and_keeps_the_history(client, login_as):
    first = factories.make_approved_serum(code="HAIR")
    second = serums.new_version(first, factories.make_user(role="pharmacist"))
    db.session.commit()
    response = client.post(f"/api/serums/{second.id}/approve", headers=login_as("admin"))
    assert response.status_code == 200
    history = client.get("/api/serums?code=HAIR", headers=login_as("doctor")).get_json()
    assert [(s["version"], s["status"]) for s in history] == [(1, "retired"), (2, "approved")]


def test_a_version_can_be_made_from_any_version_and_numbers_follow_the_highest():
    first = factories.make_approved_serum(code="HAIR")
    second = serums.new_version(first, factories.make_user(role="pharmacist"))
    serums.approve(second, factories.make_user(role="admin"))
    third = serums.new_version(first, factories.make_user(role="pharmacist"))
    assert third.version == 3


def test_a_new_serum_cannot_reuse_an_existing_code():
    factories.make_serum(code="HAIR")
    with pytest.raises(Conflict, match="new version"):
        factories.make_serum(code="HAIR")


def test_an_approved_serum_is_retired(client, login_as):
    serum = factories.make_approved_serum()
    response = client.post(f"/api/serums/{serum.id}/retire", headers=login_as("pharmacist"))
    assert response.status_code == 200 and response.get_json()["status"] == "retired"
    again = client.post(f"/api/serums/{serum.id}/retire", headers=login_as("pharmacist"))
    assert again.status_code == 409


def test_the_database_refuses_two_approved_versions_of_one_code():
    first = factories.make_approved_serum(code="HAIR")
    second = serums.new_version(first, None)
    db.session.flush()
    second.status = SerumStatus.APPROVED
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_doctor_reads_serums_but_cannot_write_or_approve_them(client, login_as):
    serum = factories.make_serum(components=[(factories.make_substance(), 1, "mg")])
    doctor = login_as("doctor")
    assert client.get(f"/api/serums/{serum.id}", headers=doctor).status_code == 200
    assert client.post(f"/api/serums/{serum.id}/approve", headers=doctor).status_code == 403
    assert client.post("/api/serums", headers=doctor, json={}).status_code == 403


def test_serums_filter_by_status_and_unknown_ids_are_404(client, login_as):
    approved = factories.make_approved_serum()
    factories.make_serum()
    headers = login_as("doctor")
    listed = client.get("/api/serums?status=approved", headers=headers).get_json()
    assert [s["id"] for s in listed] == [approved.id]
    assert client.get("/api/serums/999999", headers=headers).status_code == 404
    assert client.post("/api/serums/999999/approve", headers=login_as("admin")).status_code == 404


def test_listing_serums_takes_the_same_queries_for_5_or_50(client, login_as, queries_of_get):
    headers = login_as("doctor")
    substances = [factories.make_substance() for _ in range(3)]
    approver = factories.make_user(role="admin")

    def make(n):
        for _ in range(n):
            factories.make_approved_serum(
                components=[(s, 1, "mg") for s in substances], approver=approver
            )

    def queries():
        count, response = queries_of_get("/api/serums?status=approved", headers=headers)
        return count, len(response.get_json())

    make(5)
    few, listed = queries()
    assert listed == 5
    make(45)
    many, listed = queries()
    assert listed == 50
    assert few == many


def test_the_serum_history_is_every_version_of_a_code():
    first = factories.make_approved_serum(code="HAIR")
    serums.new_version(first, None)
    db.session.flush()
    versions = db.session.scalars(serums.serum_query(code="HAIR")).all()
    assert [v.version for v in versions] == [1, 2]
    assert db.session.scalar(select(Serum).where(Serum.code == "HAIR", Serum.version == 1)) is first


def test_an_abandoned_draft_is_retired_and_frees_the_code_for_a_new_version():
    first = factories.make_approved_serum(code="HAIR")
    draft = serums.new_version(first, None)
    serums.retire(draft)
    assert serums.new_version(first, None).version == 3
    assert first.status is SerumStatus.APPROVED


def test_the_formulary_endpoints_are_documented(client):
    paths = set(client.get("/api/openapi.json").get_json()["paths"])
    assert {
        "/api/substances",
        "/api/substances/{substance_id}",
        "/api/cross-reactivity",
        "/api/cross-reactivity/{group_id}",
        "/api/serums",
        "/api/serums/{serum_id}",
        "/api/serums/{serum_id}/approve",
        "/api/serums/{serum_id}/retire",
        "/api/serums/{serum_id}/versions",
    } <= paths

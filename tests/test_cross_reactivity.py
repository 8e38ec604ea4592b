"""Cross-reactivity groups (SPEC 3.1, /api/cross-reactivity)."""

from tests import factories


def test_a_pharmacist_links_substances_or_classes_that_cross_react(client, login_as):
    esters = factories.make_class("ester local anaesthetics", category="anaesthetic")
    paba = factories.make_substance("para-aminobenzoic acid", category="other")
    response = client.post(
        "/api/cross-reactivity",
        headers=login_as("pharmacist"),
        json={
            "name": "esters and PABA",
            "members": [esters.id, paba.id],
            "note": "esters are hydrolysed to PABA",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "name": "esters and PABA",
        "members": [esters.id, paba.id],  # by name
        "note": "esters are hydrolysed to PABA",
    }
    listed = client.get("/api/cross-reactivity", headers=login_as("doctor")).get_json()
    assert [g["name"] for g in listed] == ["esters and PABA"]


def test_a_group_links_at_least_two_known_substances(client, login_as):
    alone = factories.make_substance()
    headers = login_as("pharmacist")
    one = client.post(
        "/api/cross-reactivity", headers=headers, json={"name": "g", "members": [alone.id]}
    )
    assert one.status_code == 422 and "members" in one.get_json()["errors"]
    unknown = client.post(
        "/api/cross-reactivity",
        headers=headers,
        json={"name": "g", "members": [alone.id, 999999]},
    )
    assert unknown.status_code == 422 and "999999" in unknown.get_json()["errors"]["members"][0]


def test_group_names_are_unique(client, login_as):
    group = factories.make_cross_reactivity_group("esters and PABA")
    response = client.post(
        "/api/cross-reactivity",
        headers=login_as("pharmacist"),
        json={"name": "esters and PABA", "members": [m.id for m in group.members]},
    )
    assert response.status_code == 409


def test_a_group_is_edited_and_deleted(client, login_as):
    group = factories.make_cross_reactivity_group()
    third = factories.make_substance()
    headers = login_as("admin")
    members = [*(m.id for m in group.members), third.id]
    response = client.patch(
        f"/api/cross-reactivity/{group.id}", headers=headers, json={"members": members}
    )
    assert response.status_code == 200
    assert sorted(response.get_json()["members"]) == sorted(members)
    assert client.delete(f"/api/cross-reactivity/{group.id}", headers=headers).status_code == 204
    assert client.get(f"/api/cross-reactivity/{group.id}", headers=headers).status_code == 404


def test_a_doctor_reads_groups_but_cannot_change_them(client, login_as):
    group = factories.make_cross_reactivity_group()
    doctor = login_as("doctor")
    assert client.get(f"/api/cross-reactivity/{group.id}", headers=doctor).status_code == 200
    assert client.delete(f"/api/cross-reactivity/{group.id}", headers=doctor).status_code == 403
    assert (
        client.patch(f"/api/cross-reactivity/{group.id}", headers=doctor, json={}).status_code
        == 403
    )

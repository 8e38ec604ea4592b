"""The safety screen through the API: allergies recorded by name, the screen of one serum, and
every approved serum listed safest first, on the real substance graph."""

from decimal import Decimal

import pytest

from core.database import db
from formulary.models import CrossReactivityGroup
from formulary.serums import approve, create_serum
from formulary.substances import create_substance
from tests import factories


@pytest.fixture
def catalogue():
    """A small graph: B vitamins, cobalt in cyanocobalamin, esters cross-reacting with PABA."""
    s = {}
    s["b_vitamins"] = create_substance("B vitamins", "vitamin", is_class=True)
    s["cobalt"] = create_substance("cobalt", "trace_element")
    s["cyanocobalamin"] = create_substance(
        "cyanocobalamin",
        "vitamin",
        synonyms=["B12", "vitamin B12"],
        parents=[s["b_vitamins"].id],
        contains=[s["cobalt"].id],
    )
    s["biotin"] = create_substance("biotin", "vitamin", synonyms=["vitamin H"])
    s["esters"] = create_substance("ester local anaesthetics", "anaesthetic", is_class=True)
    s["amides"] = create_substance("amide local anaesthetics", "anaesthetic", is_class=True)
    s["procaine"] = create_substance(
        "procaine", "anaesthetic", synonyms=["Novocain"], parents=[s["esters"].id]
    )
    s["lidocaine"] = create_substance("lidocaine", "anaesthetic", parents=[s["amides"].id])
    s["paba"] = create_substance("para-aminobenzoic acid", "other", synonyms=["PABA"])
    db.session.add(CrossReactivityGroup(name="esters and PABA", members=[s["esters"], s["paba"]]))
    db.session.commit()
    return s


def approved_serum(code, *substances, author, approver):
    serum = create_serum(
        author,
        code=code,
        name=f"Serum {code}",
        source="compounded",
        dose_volume_ml=Decimal("2"),
        components=[
            {"substance_id": s.id, "amount_per_dose": {"value": 1, "unit": "mg"}}
            for s in substances
        ],
    )
    approve(serum, approver)
    db.session.commit()
    return serum


@pytest.fixture
def serums(catalogue):
    author = factories.make_user(role="pharmacist")
    approver = factories.make_user(role="admin")
    c = catalogue

    def make(code, *names):
        return approved_serum(code, *(c[n] for n in names), author=author, approver=approver)

    return {
        "vitamins": make("VIT", "biotin", "cyanocobalamin"),
        "biotin": make("BIO", "biotin"),
        "lido": make("LIDO", "biotin", "lidocaine"),
        "proc": make("PROC", "procaine"),
    }


def record(client, headers, patient, **body):
    return client.post(f"/api/patients/{patient.id}/allergies", headers=headers, json=body)


def test_an_allergy_named_by_a_synonym_in_any_case_resolves_to_the_substance(
    client, login_as, catalogue
):
    patient = factories.make_patient()
    response = record(client, login_as("doctor"), patient, substance="novocain", criticality="high")
    assert response.status_code == 201
    allergy = response.get_json()
    assert (allergy["substance"], allergy["substance_id"]) == ("procaine", catalogue["procaine"].id)
    assert allergy["clinical_status"] == "active"
    assert allergy["verification_status"] == "confirmed"


def test_an_unknown_substance_name_is_a_422_suggesting_the_closest_names(
    client, login_as, catalogue
):
    patient = factories.make_patient()
    response = record(client, login_as("doctor"), patient, substance="procain")
    assert response.status_code == 422
    body = response.get_json()
    assert "substance" in body["errors"]
    assert "procaine" in body["suggestions"]


def test_an_allergy_needs_a_substance(client, login_as, catalogue):
    response = record(client, login_as("doctor"), factories.make_patient(), criticality="low")
    assert response.status_code == 422


def test_recording_an_allergy_makes_the_history_recorded(client, login_as, catalogue):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="B12")
    assert (
        client.get(f"/api/patients/{patient.id}", headers=headers).get_json()["allergy_status"]
        == "recorded"
    )


def test_the_same_allergy_twice_is_a_409(client, login_as, catalogue):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="B12")
    assert record(client, headers, patient, substance="cyanocobalamin").status_code == 409


def test_no_known_allergies_beside_an_active_allergy_is_a_409(client, login_as, catalogue):
    patient = factories.make_patient()
    headers = login_as("doctor")
    allergy = record(client, headers, patient, substance="cobalt").get_json()
    statement = {"allergy_status": "no_known_allergies"}
    url = f"/api/patients/{patient.id}"
    assert client.patch(url, headers=headers, json=statement).status_code == 409
    client.patch(
        f"{url}/allergies/{allergy['id']}", headers=headers, json={"verification_status": "refuted"}
    )
    assert client.patch(url, headers=headers, json=statement).status_code == 200


def test_the_safety_of_one_serum_names_the_component_and_the_path(client, login_as, serums):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="cobalt")
    response = client.get(
        f"/api/patients/{patient.id}/safety?serum_id={serums['vitamins'].id}", headers=headers
    )
    assert response.status_code == 200
    screen = response.get_json()
    assert screen["verdict"] == "contraindicated"
    reason = screen["reasons"][0]
    assert reason["kind"] == "allergy"
    assert reason["component"] == "cyanocobalamin"
    assert reason["path"] == ["cyanocobalamin", "contains", "cobalt"]


def test_the_safety_check_needs_a_known_serum(client, login_as, serums):
    patient = factories.make_patient()
    headers = login_as("doctor")
    url = f"/api/patients/{patient.id}/safety"
    assert client.get(url, headers=headers).status_code == 422
    assert client.get(f"{url}?serum_id=999999", headers=headers).status_code == 404


def test_the_serum_list_has_every_approved_serum_safest_first(client, login_as, serums):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="para-aminobenzoic acid", criticality="low")
    record(client, headers, patient, substance="B12")
    listed = client.get(f"/api/patients/{patient.id}/serums", headers=headers).get_json()
    verdicts = {entry["serum"]["code"]: entry["verdict"] for entry in listed}
    assert verdicts == {
        "BIO": "safe",
        "LIDO": "safe",  # an amide: the ester/PABA group says nothing of it
        "PROC": "caution",  # cross-reacts with PABA
        "VIT": "contraindicated",
    }
    assert [e["verdict"] for e in listed] == ["safe", "safe", "caution", "contraindicated"]


def test_the_serum_list_filters_by_verdict(client, login_as, serums):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="cobalt")
    url = f"/api/patients/{patient.id}/serums?verdict=contraindicated"
    assert [e["serum"]["code"] for e in client.get(url, headers=headers).get_json()] == ["VIT"]


def test_an_inactive_or_refuted_allergy_does_not_count(client, login_as, serums):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="cobalt", clinical_status="resolved")
    record(client, headers, patient, substance="procaine", verification_status="refuted")
    listed = client.get(f"/api/patients/{patient.id}/serums", headers=headers).get_json()
    assert {e["verdict"] for e in listed} == {"safe"}


def test_pharmacists_do_not_see_the_screen(client, login_as, serums):
    patient = factories.make_patient()
    headers = login_as("pharmacist")
    assert client.get(f"/api/patients/{patient.id}/serums", headers=headers).status_code == 403


def test_the_serum_list_runs_the_same_queries_for_4_and_24_serums(
    client, login_as, serums, catalogue, queries_of_get
):
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="cobalt")
    url = f"/api/patients/{patient.id}/serums?page_size=500"

    def queries():
        return queries_of_get(url, headers=headers)[0]

    four = queries()
    author = factories.make_user(role="pharmacist")
    approver = factories.make_user(role="admin")
    for number in range(20):
        # Half of them contain cyanocobalamin, which contains cobalt: flagged serums too.
        approved_serum(
            f"EXTRA{number}",
            catalogue["biotin"],
            catalogue["cyanocobalamin" if number % 2 else "procaine"],
            author=author,
            approver=approver,
        )
    assert queries() == four


def test_the_seeded_demo_serums_screen_as_a_doctor_expects(client, runner, login_as):
    assert runner.invoke(args=["seed", "--demo"]).exit_code == 0
    patient = factories.make_patient()
    headers = login_as("doctor")
    record(client, headers, patient, substance="fish-derived material")
    record(client, headers, patient, substance="Novocain", criticality="high")
    record(client, headers, patient, substance="cobalt")
    record(client, headers, patient, substance="sulfamethoxazole")
    listed = client.get(f"/api/patients/{patient.id}/serums", headers=headers).get_json()
    by_code = {entry["serum"]["code"]: entry for entry in listed}
    assert by_code["HAIR-PN"]["verdict"] == "contraindicated"
    assert by_code["HAIR-PN"]["reasons"][0]["path"] == [
        "polynucleotides (salmon origin)",
        "contains",
        "fish-derived material",
    ]
    assert by_code["HAIR-VIT-AA"]["verdict"] == "contraindicated"
    assert by_code["HAIR-VIT-AA"]["reasons"][0]["path"] == ["cyanocobalamin", "contains", "cobalt"]
    # Lidocaine is an amide: a procaine allergy says nothing of it. Nothing here is a sulfite
    # matter either, whatever the sulfamethoxazole allergy.
    assert by_code["HAIR-LIDO"]["verdict"] == "safe"
    assert by_code["HAIR-AOX"]["verdict"] == "safe"

"""Allergy lists as EHRs send them (issue 20): the HL7 FHIR R4 examples and the US Core example,
verbatim, imported into a patient; what is stored, what the screen then says, and an export
that imports back unchanged."""

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.database import db
from formulary.seed import seed_catalogue
from formulary.substances import find_substance_by_name
from tests import factories

EXAMPLES = Path(__file__).with_name("fhir_examples")


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def bundle_of(*resources) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }


@pytest.fixture
def catalogue():
    seed_catalogue()
    db.session.commit()


@pytest.fixture
def doctor(login_as):
    return login_as("doctor")


def import_into(client, headers, patient, *resources):
    return client.post(
        f"/api/patients/{patient.id}/fhir/allergies", headers=headers, json=bundle_of(*resources)
    )


def allergies_of(client, headers, patient) -> list[dict]:
    return client.get(f"/api/patients/{patient.id}/allergies", headers=headers).get_json()


def serum_with(name: str):
    return factories.make_approved_serum(components=[(find_substance_by_name(name), 1, "mg")])


def reasons(client, headers, patient, serum) -> list[dict]:
    response = client.get(
        f"/api/patients/{patient.id}/safety", headers=headers, query_string={"serum_id": serum.id}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["reasons"]


def test_the_cashew_example_is_kept_as_received_and_cautions_every_serum(client, doctor, catalogue):
    patient = factories.make_patient()
    response = import_into(client, doctor, patient, example("allergyintolerance-example.json"))
    assert response.status_code == 200, response.get_json()
    (cashew,) = allergies_of(client, doctor, patient)
    assert cashew["substance_id"] is None and cashew["substance"] is None
    assert cashew["text"] == "Cashew nuts"
    assert {"system": "http://snomed.info/sct", "code": "227493005", "display": "Cashew nuts"} in (
        cashew["codes"]
    )
    assert cashew["criticality"] == "high" and cashew["severity"] == "severe"
    assert cashew["reaction"] == "Anaphylactic reaction, Urticaria"
    assert cashew["unscreened"] is True
    unscreened = [
        r for r in reasons(client, doctor, patient, serum_with("biotin"))
        if r["kind"] == "unscreened_allergy"
    ]  # fmt: skip
    assert unscreened == [
        {
            "kind": "unscreened_allergy",
            "verdict": "caution",
            "component": None,
            "subject": "Cashew nuts",
            "path": [],
            "message": "Cashew nuts: not in the catalogue, not checked against this serum's "
            "components.",
            "allergy_id": None,
            "condition": None,
        }
    ]


def test_reviewing_an_allergen_as_not_relevant_lifts_its_caution_and_is_kept(
    client, doctor, catalogue
):
    patient = factories.make_patient()
    import_into(client, doctor, patient, example("allergyintolerance-medication.json"))
    (penicillin,) = allergies_of(client, doctor, patient)
    assert penicillin["text"] == "Penicillin G"
    assert penicillin["verification_status"] == "unconfirmed"
    url = f"/api/patients/{patient.id}/allergies/{penicillin['id']}"
    reviewed = client.patch(url, headers=doctor, json={"reviewed_not_relevant": True})
    assert reviewed.status_code == 200, reviewed.get_json()
    body = reviewed.get_json()
    assert body["reviewed_not_relevant"] is True and body["reviewed_by"].startswith("doctor")
    assert body["unscreened"] is False
    kinds = {r["kind"] for r in reasons(client, doctor, patient, serum_with("biotin"))}
    assert "unscreened_allergy" not in kinds
    logged = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "allergies", AuditEntry.entity_id == str(penicillin["id"])
        )
    ).all()
    assert any("reviewed_not_relevant_at" in entry.changes for entry in logged)


def test_linking_an_allergen_to_a_catalogue_substance_screens_it_from_then_on(
    client, doctor, catalogue
):
    patient = factories.make_patient()
    lidocaine_text = {
        "resourceType": "AllergyIntolerance",
        "code": {"text": "Xylocaine (brand)"},
        "patient": {"reference": "Patient/1"},
    }
    import_into(client, doctor, patient, lidocaine_text)
    (allergy,) = allergies_of(client, doctor, patient)
    assert allergy["substance_id"] is None
    lidocaine = find_substance_by_name("lidocaine")
    linked = client.patch(
        f"/api/patients/{patient.id}/allergies/{allergy['id']}",
        headers=doctor,
        json={"substance_id": lidocaine.id},
    )
    assert linked.status_code == 200, linked.get_json()
    assert linked.get_json()["substance"] == "lidocaine"
    found = reasons(client, doctor, patient, serum_with("lidocaine"))
    assert [r["kind"] for r in found if r["verdict"] == "contraindicated"] == ["allergy"]


def test_the_fish_example_finds_fish_by_its_snomed_code_and_contraindicates_salmon_polynucleotides(
    client, doctor, catalogue
):
    patient = factories.make_patient()
    import_into(client, doctor, patient, example("allergyintolerance-fishallergy.json"))
    (fish,) = allergies_of(client, doctor, patient)
    assert fish["substance"] == "fish-derived material"
    assert fish["text"] == "Allergic to fresh fish. Tolerates canned fish"
    found = reasons(client, doctor, patient, serum_with("polynucleotides (salmon origin)"))
    (allergy,) = [r for r in found if r["kind"] == "allergy" and r["verdict"] == "contraindicated"]
    assert allergy["path"] == [
        "polynucleotides (salmon origin)",
        "contains",
        "fish-derived material",
    ]


def test_the_us_core_sulfonamide_example_never_touches_a_sulfite(client, doctor, catalogue):
    patient = factories.make_patient()
    response = import_into(
        client, doctor, patient, example("us-core-allergyintolerance-example.json")
    )
    assert response.status_code == 200, response.get_json()
    (sulfonamide,) = allergies_of(client, doctor, patient)
    assert sulfonamide["substance"] == "sulfonamide antibiotics"
    assert sulfonamide["reaction"] == "skin rash" and sulfonamide["severity"] == "mild"
    found = reasons(client, doctor, patient, serum_with("sodium metabisulfite"))
    assert not [r for r in found if r["kind"] in ("allergy", "cross_reactivity")]


def test_the_no_known_allergy_example_states_the_history_and_records_no_allergy(
    client, doctor, catalogue
):
    patient = factories.make_patient()
    response = import_into(client, doctor, patient, example("allergyintolerance-nka.json"))
    assert response.status_code == 200, response.get_json()
    assert allergies_of(client, doctor, patient) == []
    got = client.get(f"/api/patients/{patient.id}", headers=doctor).get_json()
    assert got["allergy_status"] == "no_known_allergies"


def test_no_known_allergy_beside_an_active_allergy_is_a_409_naming_it(client, doctor, catalogue):
    patient = factories.make_patient()
    factories.make_allergy(patient, find_substance_by_name("lidocaine"))
    response = import_into(client, doctor, patient, example("allergyintolerance-nka.json"))
    assert response.status_code == 409
    assert "lidocaine" in response.get_json()["message"]


@pytest.mark.parametrize(
    "coding",
    [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6387"},
        {"system": "http://fdasis.nlm.nih.gov", "code": "98PI200987"},
        {"system": "http://snomed.info/sct", "code": "387480006"},
    ],
)
def test_an_allergy_is_matched_by_its_code_before_its_text(client, doctor, catalogue, coding):
    patient = factories.make_patient()
    resource = {
        "resourceType": "AllergyIntolerance",
        "code": {"coding": [coding], "text": "Allergy to lidocaine"},
        "patient": {"reference": "Patient/1"},
    }
    assert import_into(client, doctor, patient, resource).status_code == 200
    (allergy,) = allergies_of(client, doctor, patient)
    assert allergy["substance"] == "lidocaine"


def test_a_newer_systems_manifestation_concept_is_read(client, doctor, catalogue):
    patient = factories.make_patient()
    resource = {
        "resourceType": "AllergyIntolerance",
        "code": {"text": "lidocaine"},
        "patient": {"reference": "Patient/1"},
        "reaction": [{"manifestation": [{"concept": {"text": "hives"}}], "severity": "moderate"}],
    }
    assert import_into(client, doctor, patient, resource).status_code == 200
    (allergy,) = allergies_of(client, doctor, patient)
    assert allergy["reaction"] == "hives" and allergy["severity"] == "moderate"


def test_a_bundle_naming_two_patients_is_refused_whole(client, doctor, catalogue):
    patient = factories.make_patient()
    other = example("allergyintolerance-fishallergy.json")
    other["patient"] = {"reference": "Patient/someone-else"}
    response = import_into(
        client, doctor, patient, example("allergyintolerance-medication.json"), other
    )
    assert response.status_code == 422
    assert "entry.1.resource.patient" in response.get_json()["errors"]
    assert allergies_of(client, doctor, patient) == []


def test_importing_the_same_ehr_list_twice_records_each_allergy_once(client, doctor, catalogue):
    patient = factories.make_patient()
    resources = [
        example(name)
        for name in (
            "allergyintolerance-example.json",
            "allergyintolerance-medication.json",
            "allergyintolerance-fishallergy.json",
        )
    ]
    assert import_into(client, doctor, patient, *resources).status_code == 200
    first = allergies_of(client, doctor, patient)
    assert import_into(client, doctor, patient, *resources).status_code == 200
    assert allergies_of(client, doctor, patient) == first
    assert len(first) == 3


def test_the_export_of_ehr_data_is_valid_r4_and_imports_back_unchanged(client, doctor, catalogue):
    patient = factories.make_patient()
    resources = [
        example(name)
        for name in (
            "allergyintolerance-example.json",
            "allergyintolerance-medication.json",
            "allergyintolerance-fishallergy.json",
            "us-core-allergyintolerance-example.json",
        )
    ]
    import_into(client, doctor, patient, *resources)
    fish = next(a for a in allergies_of(client, doctor, patient) if a["substance"])
    client.patch(
        f"/api/patients/{patient.id}/allergies/{fish['id']}",
        headers=doctor,
        json={"verification_status": "entered-in-error"},
    )
    url = f"/api/patients/{patient.id}/fhir/allergies"
    exported = client.get(url, headers=doctor).get_json()
    Bundle.model_validate(exported)
    assert exported["type"] == "collection"
    assert all(entry["fullUrl"].startswith("urn:uuid:") for entry in exported["entry"])
    by_text = {e["resource"]["code"]["text"]: e["resource"] for e in exported["entry"]}
    cashew = by_text["Cashew nuts"]
    assert {"system": "http://snomed.info/sct", "code": "227493005", "display": "Cashew nuts"} in (
        cashew["code"]["coding"]
    )
    assert {"system": "urn:serum-formulary:allergy", "value": str(cashew["id"])} in (
        cashew["identifier"]
    )
    sulfonamide = by_text["sulfonamide antibacterial"]
    assert {c["code"] for c in sulfonamide["code"]["coding"]} >= {"387406002"}
    entered_in_error = by_text["Allergic to fresh fish. Tolerates canned fish"]
    assert "clinicalStatus" not in entered_in_error

    audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    response = client.post(url, headers=doctor, json=exported)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == exported
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_a_no_known_allergy_statement_is_exported_and_imports_back_unchanged(
    client, doctor, catalogue
):
    patient = factories.make_patient()
    import_into(client, doctor, patient, example("allergyintolerance-nka.json"))
    url = f"/api/patients/{patient.id}/fhir/allergies"
    exported = client.get(url, headers=doctor).get_json()
    (entry,) = exported["entry"]
    assert entry["resource"]["code"]["coding"][0]["code"] == "716186003"
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    assert client.post(url, headers=doctor, json=exported).get_json() == exported
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_an_allergen_outside_the_catalogue_is_recorded_by_hand_with_its_text(client, doctor):
    patient = factories.make_patient()
    url = f"/api/patients/{patient.id}/allergies"
    unknown = client.post(url, headers=doctor, json={"substance": "penicillin"})
    assert unknown.status_code == 422
    recorded = client.post(url, headers=doctor, json={"text": "penicillin", "criticality": "high"})
    assert recorded.status_code == 201, recorded.get_json()
    body = recorded.get_json()
    assert body["substance_id"] is None and body["text"] == "penicillin"
    again = client.post(url, headers=doctor, json={"text": "Penicillin"})
    assert again.status_code == 409


def test_a_code_means_one_substance(client, login_as, catalogue):
    pharmacist = login_as("pharmacist")
    procaine = find_substance_by_name("procaine")
    taken = client.patch(
        f"/api/substances/{procaine.id}",
        headers=pharmacist,
        json={"codes": [{"system": "http://fdasis.nlm.nih.gov", "code": "98PI200987"}]},
    )
    assert taken.status_code == 409
    assert "lidocaine" in taken.get_json()["message"]
    malformed = client.patch(
        f"/api/substances/{procaine.id}",
        headers=pharmacist,
        json={"codes": [{"system": "http://snomed.info/sct", "code": "12ab"}]},
    )
    assert malformed.status_code == 422
    assert "codes.0.code" in malformed.get_json()["errors"]

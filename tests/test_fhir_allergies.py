"""FHIR R4 AllergyIntolerance Bundles: export, import, and a round trip that changes nothing."""

from sqlalchemy import func, select

from core.audit import AuditEntry
from core.database import db
from formulary.substances import create_substance
from tests import factories


def setup_patient(client, headers):
    create_substance("procaine", "anaesthetic", synonyms=["Novocain"])
    create_substance("cobalt", "trace_element")
    db.session.commit()
    patient = factories.make_patient(mrn="FHIR-1")
    url = f"/api/patients/{patient.id}/allergies"
    client.post(
        url,
        headers=headers,
        json={"substance": "Novocain", "criticality": "high", "reaction": "urticaria",
              "severity": "moderate"},
    )  # fmt: skip
    client.post(
        url,
        headers=headers,
        json={"substance": "cobalt", "verification_status": "unconfirmed", "severity": "mild"},
    )
    return patient


def test_the_export_is_a_valid_r4_bundle_of_allergy_intolerances(client, login_as):
    headers = login_as("doctor")
    patient = setup_patient(client, headers)
    bundle = client.get(f"/api/patients/{patient.id}/fhir/allergies", headers=headers).get_json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    procaine = bundle["entry"][0]["resource"]
    assert procaine["resourceType"] == "AllergyIntolerance"
    assert procaine["criticality"] == "high"
    assert procaine["code"]["text"] == "procaine"
    assert procaine["clinicalStatus"]["coding"][0]["code"] == "active"
    assert procaine["reaction"][0]["manifestation"][0]["text"] == "urticaria"
    assert procaine["patient"]["identifier"]["value"] == "FHIR-1"


def test_an_export_imports_back_unchanged(client, login_as):
    headers = login_as("doctor")
    patient = setup_patient(client, headers)
    url = f"/api/patients/{patient.id}/fhir/allergies"
    exported = client.get(url, headers=headers).get_json()
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    response = client.post(url, headers=headers, json=exported)
    assert response.status_code == 200
    assert response.get_json() == exported
    assert client.get(url, headers=headers).get_json() == exported
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_an_import_into_another_patient_creates_the_allergies(client, login_as):
    headers = login_as("doctor")
    source = setup_patient(client, headers)
    exported = client.get(f"/api/patients/{source.id}/fhir/allergies", headers=headers).get_json()
    for entry in exported["entry"]:
        del entry["resource"]["patient"]["identifier"]
    target = factories.make_patient()
    response = client.post(
        f"/api/patients/{target.id}/fhir/allergies", headers=headers, json=exported
    )
    assert response.status_code == 200
    allergies = client.get(f"/api/patients/{target.id}/allergies", headers=headers).get_json()
    assert sorted(a["substance"] for a in allergies) == ["cobalt", "procaine"]
    patient = client.get(f"/api/patients/{target.id}", headers=headers).get_json()
    assert patient["allergy_status"] == "recorded"


def test_an_invalid_bundle_is_a_422_naming_what_is_wrong(client, login_as):
    headers = login_as("doctor")
    patient = setup_patient(client, headers)
    url = f"/api/patients/{patient.id}/fhir/allergies"
    missing_patient = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "AllergyIntolerance", "code": {"text": "cobalt"}}}],
    }
    response = client.post(url, headers=headers, json=missing_patient)
    assert response.status_code == 422
    assert any("patient" in field for field in response.get_json()["errors"])

    bad_criticality = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "AllergyIntolerance", "criticality": "extreme",
                          "code": {"text": "cobalt"}, "patient": {"reference": "Patient/1"}}}
        ],
    }  # fmt: skip
    response = client.post(url, headers=headers, json=bad_criticality)
    assert response.status_code == 422
    assert "entry.0.resource.criticality" in response.get_json()["errors"]

    not_a_bundle = client.post(url, headers=headers, json={"resourceType": "Patient"})
    assert not_a_bundle.status_code == 422


def test_an_entry_that_cannot_be_read_refuses_the_whole_bundle(client, login_as):
    headers = login_as("doctor")
    patient = setup_patient(client, headers)
    url = f"/api/patients/{patient.id}/fhir/allergies"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "AllergyIntolerance", "code": {"text": "cobalt"},
                          "criticality": "high", "patient": {"reference": "Patient/1"}}},
            {"resource": {"resourceType": "AllergyIntolerance", "code": {"text": "unobtainium"},
                          "criticality": "extreme", "patient": {"reference": "Patient/1"}}},
        ],
    }  # fmt: skip
    before = client.get(url, headers=headers).get_json()
    response = client.post(url, headers=headers, json=bundle)
    assert response.status_code == 422
    assert "entry.1.resource.criticality" in response.get_json()["errors"]
    assert client.get(url, headers=headers).get_json() == before


def test_a_bundle_for_another_mrn_is_refused(client, login_as):
    headers = login_as("doctor")
    patient = setup_patient(client, headers)
    url = f"/api/patients/{patient.id}/fhir/allergies"
    exported = client.get(url, headers=headers).get_json()
    exported["entry"][0]["resource"]["patient"]["identifier"]["value"] = "SOMEONE-ELSE"
    assert client.post(url, headers=headers, json=exported).status_code == 422


def test_administrators_export_but_do_not_import(client, login_as):
    headers = login_as("doctor")
    patient = setup_patient(client, headers)
    url = f"/api/patients/{patient.id}/fhir/allergies"
    admin = login_as("admin")
    exported = client.get(url, headers=admin)
    assert exported.status_code == 200
    assert client.post(url, headers=admin, json=exported.get_json()).status_code == 403

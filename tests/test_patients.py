"""Patients (SPEC 3.3, 4): identity, alopecia stage on its scale, conditions, the allergy-history
statement, and who may read and write them."""

import pytest

from clinic.models import AlopeciaScale, Sex
from clinic.patients import create_patient, update_patient
from tests import factories

NEW_PATIENT = {
    "mrn": "MRN-1001",
    "name": "Ana Souza",
    "birth_date": "1985-03-14",
    "sex": "female",
    "alopecia_scale": "ludwig",
    "alopecia_stage": "II",
    "conditions": [{"code": "blood_thinner_use", "active": True}],
}


def test_a_doctor_registers_a_patient_whose_allergy_status_starts_unknown(client, login_as):
    response = client.post("/api/patients", headers=login_as("doctor"), json=NEW_PATIENT)
    assert response.status_code == 201
    patient = response.get_json()
    assert patient["allergy_status"] == "unknown"
    assert patient["alopecia_stage"] == "II"
    assert patient["conditions"] == [{"code": "blood_thinner_use", "active": True}]


def test_the_mrn_is_unique(client, login_as):
    headers = login_as("doctor")
    client.post("/api/patients", headers=headers, json=NEW_PATIENT)
    again = client.post("/api/patients", headers=headers, json={**NEW_PATIENT, "name": "Other"})
    assert again.status_code == 409
    assert "mrn" in again.get_json()["errors"]


@pytest.mark.parametrize(
    "scale, stage",
    [("ludwig", "IV"), ("norwood", "VIII"), ("norwood", 0), ("norwood", "IIX"), (None, "II")],
)
def test_a_stage_outside_its_scale_is_a_422(client, login_as, scale, stage):
    body = {**NEW_PATIENT, "alopecia_scale": scale, "alopecia_stage": stage}
    response = client.post("/api/patients", headers=login_as("doctor"), json=body)
    assert response.status_code == 422
    assert {"alopecia_stage", "alopecia_scale"} & set(response.get_json()["errors"])


def test_a_stage_may_be_given_as_a_number_and_reads_back_roman(client, login_as):
    body = {**NEW_PATIENT, "sex": "male", "alopecia_scale": "norwood", "alopecia_stage": 5}
    response = client.post("/api/patients", headers=login_as("doctor"), json=body)
    assert response.get_json()["alopecia_stage"] == "V"


def test_a_birth_date_in_the_future_is_refused(client, login_as):
    body = {**NEW_PATIENT, "birth_date": "2999-01-01"}
    response = client.post("/api/patients", headers=login_as("doctor"), json=body)
    assert response.status_code == 422 and "birth_date" in response.get_json()["errors"]


def test_changing_the_scale_rechecks_the_stage(client, login_as):
    patient = factories.make_patient(alopecia_stage=6)
    response = client.patch(
        f"/api/patients/{patient.id}", headers=login_as("doctor"), json={"alopecia_scale": "ludwig"}
    )
    assert response.status_code == 422


def test_conditions_are_replaced_in_place(client, login_as):
    patient = factories.make_patient()
    headers = login_as("doctor")
    url = f"/api/patients/{patient.id}"
    client.patch(url, headers=headers, json={"conditions": [{"code": "shingles"}]})
    response = client.patch(
        url,
        headers=headers,
        json={"conditions": [{"code": "shingles", "active": False}, {"code": "scalp_infection"}]},
    )
    assert response.get_json()["conditions"] == [
        {"code": "scalp_infection", "active": True},
        {"code": "shingles", "active": False},
    ]


def test_a_condition_listed_twice_is_refused(client, login_as):
    patient = factories.make_patient()
    response = client.patch(
        f"/api/patients/{patient.id}",
        headers=login_as("doctor"),
        json={"conditions": [{"code": "shingles"}, {"code": "shingles"}]},
    )
    assert response.status_code == 422


def test_a_doctor_states_no_known_allergies(client, login_as):
    patient = factories.make_patient()
    response = client.patch(
        f"/api/patients/{patient.id}",
        headers=login_as("doctor"),
        json={"allergy_status": "no_known_allergies"},
    )
    assert response.get_json()["allergy_status"] == "no_known_allergies"


def test_recorded_cannot_be_stated_it_follows_from_an_allergy(client, login_as):
    patient = factories.make_patient()
    response = client.patch(
        f"/api/patients/{patient.id}",
        headers=login_as("doctor"),
        json={"allergy_status": "recorded"},
    )
    assert response.status_code == 422


def test_doctors_search_patients_by_name_or_mrn(client, login_as):
    factories.make_patient(name="Carlos Mendes", mrn="CM-77")
    factories.make_patient(name="Dora Lima", mrn="DL-12")
    headers = login_as("doctor")
    assert [p["mrn"] for p in client.get("/api/patients?q=mendes", headers=headers).get_json()] == [
        "CM-77"
    ]
    assert [p["name"] for p in client.get("/api/patients?q=dl-1", headers=headers).get_json()] == [
        "Dora Lima"
    ]


def test_the_patient_list_runs_the_same_queries_for_5_and_50_patients(
    client, login_as, queries_of_get
):
    headers = login_as("admin")

    def queries_for_list():
        return queries_of_get("/api/patients?page_size=500", headers=headers)[0]

    for _ in range(5):
        factories.make_patient(conditions=[])
    five = queries_for_list()
    for _ in range(45):
        factories.make_patient()
    assert queries_for_list() == five


@pytest.mark.parametrize("role", ["pharmacist"])
def test_pharmacists_have_no_access_to_patients(client, login_as, role):
    patient = factories.make_patient()
    headers = login_as(role)
    assert client.get("/api/patients", headers=headers).status_code == 403
    assert client.get(f"/api/patients/{patient.id}", headers=headers).status_code == 403
    assert client.get(f"/api/patients/{patient.id}/allergies", headers=headers).status_code == 403


def test_administrators_read_patients_but_do_not_write(client, login_as):
    patient = factories.make_patient()
    headers = login_as("admin")
    assert client.get(f"/api/patients/{patient.id}", headers=headers).status_code == 200
    assert client.post("/api/patients", headers=headers, json=NEW_PATIENT).status_code == 403
    assert (
        client.patch(f"/api/patients/{patient.id}", headers=headers, json={"name": "x"}).status_code
        == 403
    )


def test_an_unknown_patient_is_a_404(client, login_as):
    assert client.get("/api/patients/424242", headers=login_as("doctor")).status_code == 404


def test_condition_rules_are_seeded_and_administrators_add_rules(client, runner, login_as):
    runner.invoke(args=["seed"])
    admin, doctor = login_as("admin"), login_as("doctor")
    codes = [r["code"] for r in client.get("/api/condition-rules", headers=doctor).get_json()]
    assert {"scalp_infection", "shingles", "blood_thinner_use"} <= set(codes)
    rule = {
        "code": "isotretinoin_use",
        "label": "Isotretinoin treatment",
        "verdict": "caution",
        "message": "Skin heals slowly under isotretinoin.",
    }
    assert client.post("/api/condition-rules", headers=doctor, json=rule).status_code == 403
    assert client.post("/api/condition-rules", headers=admin, json=rule).status_code == 201
    assert client.post("/api/condition-rules", headers=admin, json=rule).status_code == 409
    bad = client.post("/api/condition-rules", headers=admin, json={**rule, "verdict": "maybe"})
    assert bad.status_code == 422 and "verdict" in bad.get_json()["errors"]


def test_the_domain_takes_plain_values_as_well_as_enums():
    patient = create_patient(
        {"mrn": "PLAIN-1", "name": "Plain", "sex": "male", "alopecia_scale": "norwood",
         "alopecia_stage": "IV"}
    )  # fmt: skip
    assert (patient.sex, patient.alopecia_scale, patient.alopecia_stage) == (
        Sex.MALE,
        AlopeciaScale.NORWOOD,
        4,
    )
    update_patient(patient, {"sex": "female", "alopecia_scale": "ludwig", "alopecia_stage": 2})
    assert (patient.sex, patient.alopecia_scale) == (Sex.FEMALE, AlopeciaScale.LUDWIG)

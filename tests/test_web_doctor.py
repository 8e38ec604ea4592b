"""The doctor's pages: patient search, a new patient, and the patient page (allergies by any
name of a substance, stage and conditions, allergy history, every approved serum screened)."""

import re

import pytest
from sqlalchemy import func, select

from clinic.conditions import seed_condition_rules
from clinic.models import Allergy, AllergyStatus, Patient
from core.database import db
from tests import factories


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def doctor(sign_in_page):
    return sign_in_page("doctor")


@pytest.fixture
def procaine_serum():
    procaine = factories.make_substance("procaine", category="anaesthetic", synonyms=["Novocain"])
    return factories.make_approved_serum(
        components=[(procaine, 20, "mg")], code="ANAES-1", name="Anaesthetic serum"
    )


def serum_entry(page: str, code: str) -> str:
    start = page.index(f'data-serum="{code}"')
    return page[start : page.index("</li>\n  \n", start)]


def test_patients_are_found_by_part_of_the_name_or_the_record_number(client, doctor):
    factories.make_patient(name="Ana Lopez", mrn="MRN-7781")
    factories.make_patient(name="Bruno Diaz", mrn="MRN-1200")
    by_name = html(client.get("/patients", query_string={"q": "lop"}))
    assert "Ana Lopez" in by_name and "Bruno Diaz" not in by_name
    by_mrn = html(client.get("/patients", query_string={"q": "1200"}))
    assert "Bruno Diaz" in by_mrn and "Ana Lopez" not in by_mrn


def test_a_doctor_adds_a_patient_and_lands_on_their_page(client, doctor):
    response = client.post(
        "/patients",
        data={"mrn": "NEW-1", "name": "Carla Ruiz", "sex": "female", "alopecia_scale": "ludwig",
              "alopecia_stage": "II", "birth_date": "1980-02-03"},
    )  # fmt: skip
    assert response.status_code == 302
    patient = db.session.scalar(select(Patient).where(Patient.mrn == "NEW-1"))
    assert response.headers["Location"] == f"/patients/{patient.id}"
    assert (patient.alopecia_scale.value, patient.alopecia_stage) == ("ludwig", 2)
    taken = client.post("/patients", data={"mrn": "NEW-1", "name": "Other", "sex": "male"})
    assert taken.status_code == 409 and 'id="mrn-error">Taken.' in html(taken)
    beyond = client.post(
        "/patients",
        data={"mrn": "NEW-2", "name": "X", "sex": "female", "alopecia_scale": "ludwig",
              "alopecia_stage": "V"},
    )  # fmt: skip
    assert beyond.status_code == 422 and "Ludwig stages run from I to III." in html(beyond)
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1


def test_recording_an_allergy_by_a_synonym_turns_the_serum_contraindicated_with_the_reason(
    client, doctor, procaine_serum
):
    patient = factories.make_patient()
    before = html(client.get(f"/patients/{patient.id}"))
    assert "Caution" in serum_entry(before, "ANAES-1")
    assert "Allergy history not taken" in serum_entry(before, "ANAES-1")

    response = client.post(
        f"/patients/{patient.id}/allergies",
        data={"substance": "novocain", "criticality": "high",
              "verification_status": "confirmed", "clinical_status": "active"},
    )  # fmt: skip

    assert response.status_code == 302
    page = html(client.get(f"/patients/{patient.id}"))
    assert "Allergy to procaine (recorded as &#39;novocain&#39;) recorded." in page
    entry = serum_entry(page, "ANAES-1")
    assert "badge-contraindicated" in entry and "Contraindicated" in entry
    assert "Allergy to procaine: the serum contains procaine." in entry
    assert re.search(r'id="allergy-status">recorded<', page)


def test_an_unknown_substance_is_refused_next_to_the_field_with_suggestions(
    client, doctor, procaine_serum
):
    patient = factories.make_patient()
    response = client.post(
        f"/patients/{patient.id}/allergies",
        data={"substance": "procain", "criticality": "low",
              "verification_status": "confirmed", "clinical_status": "active"},
    )  # fmt: skip
    assert response.status_code == 422
    error = re.search(r'id="substance-error">([^<]*)<', html(response)).group(1)
    assert "is not in the catalogue" in error and "procaine" in error
    assert db.session.scalar(select(Allergy.id).where(Allergy.patient_id == patient.id)) is None


def test_the_substance_picker_offers_names_and_synonyms(client, doctor, procaine_serum):
    page = html(client.get(f"/patients/{factories.make_patient().id}"))
    assert 'list="substance-names"' in page
    assert '<option value="Novocain">' in page and '<option value="procaine">' in page


def test_no_known_allergies_beside_an_active_allergy_is_a_409(client, doctor, procaine_serum):
    patient = factories.make_patient()
    clean = factories.make_patient()
    assert client.post(f"/patients/{clean.id}/no-known-allergies").status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, clean.id).allergy_status == AllergyStatus.NO_KNOWN_ALLERGIES

    client.post(
        f"/patients/{patient.id}/allergies",
        data={"substance": "procaine", "criticality": "low",
              "verification_status": "confirmed", "clinical_status": "active"},
    )  # fmt: skip
    refused = client.post(f"/patients/{patient.id}/no-known-allergies")
    assert refused.status_code == 409 and "would contradict them" in html(refused)


def test_stage_and_conditions_are_saved_and_an_unticked_condition_stays_as_past(
    client, doctor, procaine_serum
):
    seed_condition_rules()
    db.session.commit()
    patient = factories.make_patient()
    saved = client.post(
        f"/patients/{patient.id}/profile",
        data={"profile-alopecia_scale": "norwood", "profile-alopecia_stage": "VI",
              "profile-conditions": ["shingles"]},
    )  # fmt: skip
    assert saved.status_code == 302
    page = html(client.get(f"/patients/{patient.id}"))
    entry = serum_entry(page, "ANAES-1")
    assert "Active shingles: no injections until the lesions have healed." in entry
    assert "Norwood stage VI is beyond stage IV" in entry

    client.post(
        f"/patients/{patient.id}/profile",
        data={"profile-alopecia_scale": "norwood", "profile-alopecia_stage": "III"},
    )
    db.session.expire_all()
    conditions = [(c.code, c.active) for c in db.session.get(Patient, patient.id).conditions]
    assert conditions == [("shingles", False)]
    assert "Past conditions: shingles" in html(client.get(f"/patients/{patient.id}"))


def test_a_stage_without_its_scale_is_shown_next_to_the_field(client, doctor):
    patient = factories.make_patient(alopecia_scale=None, alopecia_stage=None)
    response = client.post(f"/patients/{patient.id}/profile", data={"profile-alopecia_stage": "II"})
    assert response.status_code == 422
    assert 'id="profile-alopecia_scale-error">A stage and its scale go together' in html(response)


def test_an_administrator_reads_the_patient_page_but_changes_nothing(
    client, sign_in_page, procaine_serum
):
    sign_in_page("admin")
    patient = factories.make_patient()
    page = html(client.get(f"/patients/{patient.id}"))
    assert "ANAES-1" in page and 'id="allergy-form"' not in page
    refused = client.post(f"/patients/{patient.id}/allergies", data={"substance": "procaine"})
    assert refused.status_code == 403


def test_the_patient_page_is_not_for_pharmacists(client, sign_in_page):
    sign_in_page("pharmacist")
    assert client.get(f"/patients/{factories.make_patient().id}").status_code == 403


def test_the_patient_page_sends_the_same_number_of_queries_for_few_and_many_serums(
    client, doctor, count_queries
):
    patient = factories.make_patient()
    allergen = factories.make_substance()
    factories.make_approved_serum(components=[(allergen, 1, "mg")])
    factories.make_approved_serum()

    def measure():
        db.session.expire_all()
        with count_queries() as counted:
            assert client.get(f"/patients/{patient.id}").status_code == 200
        return counted.count

    few = measure()
    for _ in range(8):
        factories.make_approved_serum(
            components=[(allergen, 1, "mg"), (factories.make_substance(), 2, "mg")]
        )
    assert measure() == few

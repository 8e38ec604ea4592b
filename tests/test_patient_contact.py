"""A patient's contact details and consent to be contacted by e-mail: recorded with its date
and who recorded it, withdrawable, in the audit log; through the API and the patient page."""

from sqlalchemy import select

from clinic.models import Language
from core.audit import AuditEntry
from core.database import db
from tests import factories


def test_the_consent_is_recorded_with_its_date_and_who_recorded_it(client, login_as):
    headers = login_as("doctor")
    created = client.post(
        "/api/patients",
        json={
            "mrn": "MRN-CONSENT-1",
            "name": "Chloé Martin",
            "sex": "female",
            "email": "chloe@example.org",
            "phone": "+33 6 12 34 56 78",
            "language": "fr",
            "contact_consent": {"given": True},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    patient = created.json
    assert (patient["email"], patient["phone"], patient["language"]) == (
        "chloe@example.org",
        "+33 6 12 34 56 78",
        "fr",
    )
    consent = patient["contact_consent"]
    assert consent["given"] is True and consent["at"] is not None
    assert consent["by"].startswith("doctor")
    withdrawn = client.patch(
        f"/api/patients/{patient['id']}",
        json={"contact_consent": {"given": False}},
        headers=headers,
    )
    assert withdrawn.json["contact_consent"]["given"] is False
    changes = db.session.scalars(
        select(AuditEntry.changes)
        .where(AuditEntry.entity == "patients", AuditEntry.entity_id == str(patient["id"]))
        .order_by(AuditEntry.id)
    ).all()
    assert any("contact_consent_at" in change for change in changes[1:])


def test_a_consent_needs_an_address_and_a_patient_defaults_to_english(client, login_as):
    headers = login_as("doctor")
    answer = client.post(
        "/api/patients",
        json={"mrn": "MRN-CONSENT-2", "name": "No Mail", "sex": "male"},
        headers=headers,
    )
    assert answer.json["language"] == "en"
    assert answer.json["contact_consent"] == {"given": False, "at": None, "by": None}
    refused = client.patch(
        f"/api/patients/{answer.json['id']}",
        json={"contact_consent": {"given": True}},
        headers=headers,
    )
    assert refused.status_code == 422
    assert "contact_consent" in str(refused.json)


def test_the_doctor_records_contact_details_and_consent_on_the_patient_page(client, sign_in_page):
    doctor = sign_in_page("doctor")
    patient = factories.make_safe_patient()
    response = client.post(
        f"/patients/{patient.id}/contact",
        data={
            "contact-email": "ana@example.org",
            "contact-phone": "+33 6 00 00 00 00",
            "contact-language": "fr",
            "contact-contact_consent": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert (patient.email, patient.language, patient.contact_consent_by_id) == (
        "ana@example.org",
        Language.FR,
        doctor.id,
    )
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Consent to be contacted by e-mail recorded on" in page
    assert doctor.username in page
    client.post(
        f"/patients/{patient.id}/contact",
        data={"contact-email": "ana@example.org", "contact-language": "fr"},
    )
    db.session.expire_all()
    assert patient.contact_consent_at is None


def test_a_consent_without_an_address_is_refused_on_the_page(client, sign_in_page):
    sign_in_page("doctor")
    patient = factories.make_safe_patient()
    response = client.post(
        f"/patients/{patient.id}/contact",
        data={"contact-language": "en", "contact-contact_consent": "y"},
    )
    assert response.status_code == 422
    assert "e-mail address first" in response.get_data(as_text=True)

"""Corrections of the doctor's record: an allergy's criticality, severity, reaction,
verification and clinical status (the screen follows: a refuted allergy or one entered in error
no longer blocks), side effects chosen rather than preset and withdrawn as entered in error
after a confirmation (kept in the audit log, no longer shown, in the pages and the API), and a
session cancelled only after a confirmation."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic.models import (
    Allergy,
    AllergyStatus,
    Patient,
    SessionStatus,
    SideEffect,
    TreatmentSession,
    VerificationStatus,
)
from clinic.sessions import complete_session, record_side_effect
from core.audit import AuditEntry
from core.database import db
from tests import factories

LATER = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
DONE = {"needle_mm": Decimal(6), "technique": "gun", "injection_points": 80}


def html(response) -> str:
    return response.get_data(as_text=True)


def serum_badge(page: str, code: str) -> str:
    start = page.index(f'data-serum="{code}"')
    return re.search(r'class="badge badge-(\w+)"', page[start:]).group(1)


@pytest.fixture
def doctor(sign_in_page):
    return sign_in_page("doctor")


@pytest.fixture
def procaine_allergy():
    """A patient allergic to procaine (high criticality) and a serum that contains it."""
    procaine = factories.make_substance("procaine-c", category="anaesthetic", synonyms=["Novo-c"])
    factories.make_approved_serum(components=[(procaine, 20, "mg")], code="ANAES-C")
    patient = factories.make_safe_patient(name="Inês Prado")
    allergy = factories.make_allergy(patient, procaine, criticality="high", reaction="urticaria")
    return patient, allergy


def correcting(**fields) -> dict:
    form = {
        "criticality": "high",
        "verification_status": "confirmed",
        "clinical_status": "active",
        "severity": "",
        "reaction": "urticaria",
    }
    return {**form, **fields}


def allergy_now(allergy) -> Allergy:
    db.session.expire_all()
    return db.session.get(Allergy, allergy.id)


# --- allergies ---------------------------------------------------------------------------------


def test_the_patient_page_links_each_allergy_to_its_correction(client, doctor, procaine_allergy):
    patient, allergy = procaine_allergy
    page = html(client.get(f"/patients/{patient.id}"))
    assert (
        f'href="/patients/{patient.id}/allergies/{allergy.id}" '
        'aria-label="Correct the allergy to procaine-c">Correct</a>'
    ) in page
    form = html(client.get(f"/patients/{patient.id}/allergies/{allergy.id}"))
    assert "Correct the allergy to procaine-c" in form
    assert re.search(r'<option selected value="high">high</option>', form)
    assert re.search(r'value="urticaria"', form)


def test_an_allergy_marked_refuted_no_longer_blocks_the_serum(client, doctor, procaine_allergy):
    patient, allergy = procaine_allergy
    assert serum_badge(html(client.get(f"/patients/{patient.id}")), "ANAES-C") == (
        "contraindicated"
    )

    response = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}",
        data=correcting(verification_status="refuted", severity="mild"),
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{patient.id}#serums"
    corrected = allergy_now(allergy)
    assert corrected.verification_status == VerificationStatus.REFUTED
    assert corrected.severity.value == "mild"
    page = html(client.get(f"/patients/{patient.id}"))
    assert (
        "Allergy to procaine-c corrected: refuted, active; it no longer weighs on the screen."
        in page
    )
    assert serum_badge(page, "ANAES-C") == "safe"  # refuted: the history was taken
    assert re.search(rf'<tr id="allergy-{allergy.id}" class="muted">', page)


def test_an_allergy_entered_in_error_leaves_the_allergy_history_unknown_again(
    client, doctor, procaine_allergy
):
    patient, allergy = procaine_allergy
    response = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}",
        data=correcting(verification_status="entered-in-error"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).allergy_status == AllergyStatus.UNKNOWN
    page = html(client.get(f"/patients/{patient.id}"))
    assert serum_badge(page, "ANAES-C") == "caution"
    assert "Allergy history not taken" in page
    assert "Allergy to procaine-c: the serum contains" not in page

    # Confirmed again, it weighs again and the history is recorded.
    client.post(f"/patients/{patient.id}/allergies/{allergy.id}", data=correcting())
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).allergy_status == AllergyStatus.RECORDED
    assert serum_badge(html(client.get(f"/patients/{patient.id}")), "ANAES-C") == (
        "contraindicated"
    )


def test_a_resolved_allergy_no_longer_blocks_the_serum(client, doctor, procaine_allergy):
    patient, allergy = procaine_allergy
    client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}",
        data=correcting(clinical_status="resolved"),
    )
    assert serum_badge(html(client.get(f"/patients/{patient.id}")), "ANAES-C") == "safe"


def test_a_correction_with_bad_values_is_refused_next_to_each_field_and_changes_nothing(
    client, doctor, procaine_allergy
):
    patient, allergy = procaine_allergy
    response = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}",
        data=correcting(
            criticality="extreme",
            verification_status="",
            clinical_status="gone",
            reaction="x" * 201,
        ),
    )
    assert response.status_code == 422
    page = html(response)
    for name in ("criticality", "verification_status", "clinical_status", "reaction"):
        assert f'id="{name}-error"' in page
    unchanged = allergy_now(allergy)
    assert (unchanged.criticality.value, unchanged.verification_status.value) == (
        "high",
        "confirmed",
    )


def test_an_allergy_already_recorded_says_so_in_words_with_a_link_to_correct_it(
    client, doctor, procaine_allergy
):
    patient, allergy = procaine_allergy
    response = client.post(
        f"/patients/{patient.id}/allergies",
        data={"substance": "Novo-c", "criticality": "low", "verification_status": "confirmed",
              "clinical_status": "active"},
    )  # fmt: skip
    assert response.status_code == 409
    page = html(response)
    assert "An allergy to procaine-c is already recorded for this patient" in page
    assert (
        f'<a href="/patients/{patient.id}/allergies/{allergy.id}">Correct the recorded allergy '
        "to procaine-c</a>"
    ) in page
    assert "(id " not in page and "update it" not in page
    assert db.session.scalar(select(func.count()).select_from(Allergy)) == 1


def test_only_doctors_correct_allergies(client, sign_in_page, procaine_allergy):
    patient, allergy = procaine_allergy
    sign_in_page("admin")
    assert "allergies/" not in html(client.get(f"/patients/{patient.id}")).split("Record")[0]
    assert client.get(f"/patients/{patient.id}/allergies/{allergy.id}").status_code == 403
    refused = client.post(
        f"/patients/{patient.id}/allergies/{allergy.id}",
        data=correcting(clinical_status="resolved"),
    )
    assert refused.status_code == 403
    assert allergy_now(allergy).clinical_status.value == "active"


def test_an_allergy_of_another_patient_is_not_found(client, doctor, procaine_allergy):
    _, allergy = procaine_allergy
    other = factories.make_safe_patient()
    assert client.get(f"/patients/{other.id}/allergies/{allergy.id}").status_code == 404


def test_the_api_correction_follows_the_same_rule(client, login_as, procaine_allergy):
    patient, allergy = procaine_allergy
    headers = login_as("doctor")
    url = f"/api/patients/{patient.id}/allergies/{allergy.id}"
    bad = client.patch(url, headers=headers, json={"verification_status": "maybe"})
    assert bad.status_code == 422 and "verification_status" in bad.get_json()["errors"]
    done = client.patch(url, headers=headers, json={"verification_status": "entered-in-error"})
    assert done.status_code == 200
    patient_now = client.get(f"/api/patients/{patient.id}", headers=headers).get_json()
    assert patient_now["allergy_status"] == "unknown"


# --- side effects ------------------------------------------------------------------------------


@pytest.fixture
def completed_session(doctor):
    serum = factories.make_approved_serum(code="VIT-C", name="Vitamin serum")
    factories.make_lot(factories.make_serum_product(serum), quantity="10")
    patient = factories.make_safe_patient(name="Joana Dias")
    session = factories.make_course(patient, serum).sessions[0]
    complete_session(session, doctor=doctor, fields=dict(DONE), now=LATER)
    db.session.commit()
    return session


def effect_form(session_id: int, **fields) -> dict:
    return {f"effect-{session_id}-{name}": value for name, value in fields.items()}


def side_effect_count() -> int:
    return db.session.scalar(select(func.count()).select_from(SideEffect))


def test_the_side_effect_form_has_no_preset_kind_or_severity(client, completed_session):
    page = html(client.get(f"/patients/{completed_session.patient_id}"))
    for name in ("kind", "severity"):
        select_ = re.search(
            rf'<select[^>]*id="effect-{completed_session.id}-{name}".*?</select>', page, re.S
        ).group(0)
        # Nothing selected: the browser shows the first option, "Choose".
        assert "selected" not in select_
        assert re.search(r'required><option value="">Choose</option>', select_)


def test_a_side_effect_without_kind_and_severity_is_refused_next_to_both(client, completed_session):
    session_id = completed_session.id
    response = client.post(
        f"/sessions/{session_id}/side-effects", data=effect_form(session_id, note="left temple")
    )
    assert response.status_code == 422
    page = html(response)
    assert f'id="effect-{session_id}-kind-error">Choose the side effect.' in page
    assert f'id="effect-{session_id}-severity-error">Choose how severe it was.' in page
    assert side_effect_count() == 0


def test_a_side_effect_entered_in_error_is_withdrawn_after_a_confirmation(
    client, doctor, completed_session
):
    session = completed_session
    effect = record_side_effect(
        session, kind="rash", severity="mild", note="by mistake", doctor=doctor, now=LATER
    )
    db.session.commit()
    page = html(client.get(f"/patients/{session.patient_id}"))
    url = f"/sessions/{session.id}/side-effects/{effect.id}/entered-in-error"
    form = re.search(rf'<form method="post" action="{url}"[^>]*>', page).group(0)
    assert 'data-confirm="Mark the side effect “rash (mild)”' in form

    asked = client.post(url)
    assert asked.status_code == 200
    assert "Mark the side effect “rash (mild)” of the session of 3 Mar 2025 as entered" in (
        html(asked)
    )
    assert 'name="confirmed" value="yes"' in html(asked)
    db.session.expire_all()
    assert db.session.get(SideEffect, effect.id).entered_in_error_at is None

    done = client.post(url, data={"confirmed": "yes"})

    assert done.status_code == 302
    assert done.headers["Location"] == f"/patients/{session.patient_id}#session-{session.id}"
    db.session.expire_all()
    kept = db.session.get(SideEffect, effect.id)
    assert kept.entered_in_error_at is not None and kept.entered_in_error_by_id == doctor.id
    page = html(client.get(f"/patients/{session.patient_id}"))
    assert "marked entered in error: it is no longer shown." in page
    row = page[page.index(f'id="session-{session.id}"') :]
    assert "rash (mild)" not in row[: row.index("</tr>")]
    assert f'id="side-effect-{effect.id}"' not in page
    audit = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "side_effects", AuditEntry.entity_id == str(effect.id)
        )
    ).all()
    assert [entry.action for entry in audit] == ["create", "update"]
    assert audit[1].username == doctor.username
    assert "entered_in_error_at" in audit[1].changes


def test_a_side_effect_withdrawn_twice_says_so_and_changes_nothing(
    client, doctor, completed_session
):
    effect = record_side_effect(
        completed_session, kind="rash", severity="mild", note=None, doctor=doctor, now=LATER
    )
    db.session.commit()
    url = f"/sessions/{completed_session.id}/side-effects/{effect.id}/entered-in-error"
    assert client.post(url, data={"confirmed": "yes"}).status_code == 302
    again = client.post(url, data={"confirmed": "yes"}, follow_redirects=True)
    assert "no such side effect (or it was withdrawn)" in html(again)


def test_the_api_marks_a_side_effect_entered_in_error_with_the_same_rule(
    client, login_as, completed_session
):
    session = completed_session
    headers = login_as("doctor")
    recorded = client.post(
        f"/api/sessions/{session.id}/side-effects",
        headers=headers,
        json={"kind": "hematoma", "severity": "mild"},
    )
    effect_id = recorded.get_json()["side_effects"][0]["id"]
    url = f"/api/sessions/{session.id}/side-effects/{effect_id}/entered-in-error"

    assert client.post(url, headers=login_as("admin")).status_code == 403
    response = client.post(url, headers=headers)

    assert response.status_code == 200
    assert response.get_json()["side_effects"] == []
    assert (
        client.get(f"/api/sessions/{session.id}", headers=headers).get_json()["side_effects"] == []
    )
    assert client.post(url, headers=headers).status_code == 404
    assert side_effect_count() == 1  # kept


# --- cancelling a session ----------------------------------------------------------------------


def test_cancelling_a_session_asks_first_with_and_without_script(client, doctor):
    serum = factories.make_approved_serum(code="VIT-X", name="Vitamin serum")
    patient = factories.make_safe_patient(name="Lara Brito")
    session = factories.make_course(patient, serum).sessions[1]
    page = html(client.get(f"/patients/{patient.id}"))
    form = re.search(
        rf'<form method="post" action="/sessions/{session.id}/cancel"[^>]*>', page, re.S
    ).group(0)
    assert 'data-confirm="Cancel the session of 10 Mar 2025 of Lara Brito?' in form

    data = {f"cancel-{session.id}-reason": "moved away"}
    asked = client.post(f"/sessions/{session.id}/cancel", data=data)
    assert asked.status_code == 200
    assert "Cancel the session of 10 Mar 2025 of Lara Brito (Vitamin serum)?" in html(asked)
    assert f'name="cancel-{session.id}-reason" value="moved away"' in html(asked)
    assert "Reason: moved away" in html(asked)
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).status == SessionStatus.PLANNED

    done = client.post(f"/sessions/{session.id}/cancel", data={**data, "confirmed": "yes"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).status == SessionStatus.CANCELLED

"""The doctor's pages: patient search, a new patient, and the patient page (allergies by any
name of a substance, stage and conditions, allergy history, every approved serum screened)."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic.conditions import seed_condition_rules
from clinic.models import (
    Allergy,
    AllergyStatus,
    Course,
    Patient,
    SessionStatus,
    SideEffect,
    TreatmentSession,
)
from clinic.sessions import complete_session, record_side_effect
from core.database import db
from inventory.models import Lot, Movement
from tests import factories

# After every session the tests complete (their courses start in spring 2025).
LATER = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


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
    client, doctor, queries_of_get
):
    patient = factories.make_patient()
    allergen = factories.make_substance()
    factories.make_approved_serum(components=[(allergen, 1, "mg")])
    factories.make_approved_serum()

    def measure():
        return queries_of_get(f"/patients/{patient.id}")[0]

    few = measure()
    for _ in range(8):
        factories.make_approved_serum(
            components=[(allergen, 1, "mg"), (factories.make_substance(), 2, "mg")]
        )
    assert measure() == few


# --- courses and sessions ----------------------------------------------------------------------

PROCEDURE = {"needle_mm": "6", "technique": "gun", "injection_points": "80"}
# The same, as the clinic's rules take it when a test sets up a completed session directly.
DONE = {"needle_mm": Decimal(6), "technique": "gun", "injection_points": 80}


def completing(session_id: int, **fields) -> dict:
    """The complete form of one session, as the page posts it (each session's form is
    prefixed with its id)."""
    return {
        f"complete-{session_id}-{name}": value for name, value in {**PROCEDURE, **fields}.items()
    }


def quantity_of(lot) -> Decimal:
    db.session.expire_all()
    return db.session.get(Lot, lot.id).quantity_on_hand


def session_row(page: str, session_id: int) -> str:
    start = page.index(f'id="session-{session_id}"')
    return page[start : page.index("</tr>", start)]


@pytest.fixture
def stocked_serum():
    """An approved serum with a serum product counted per dose and one lot of 10 doses."""
    serum = factories.make_approved_serum(code="VIT-1", name="Vitamin serum")
    lot = factories.make_lot(factories.make_serum_product(serum), lot_number="VS-1", quantity="10")
    return serum, lot


def test_a_completion_on_caution_without_a_reason_is_refused_with_the_reasons_and_consumes_nothing(
    client, doctor, stocked_serum
):
    serum, lot = stocked_serum
    patient = factories.make_patient()  # allergy history not taken: caution
    session = factories.make_course(patient, serum).sessions[0]

    page = html(client.get(f"/patients/{patient.id}"))
    course = page[page.index('id="courses-title"') :]
    assert "badge-caution" in course and "Allergy history not taken" in course
    field = re.search(rf'<textarea[^>]*id="complete-{session.id}-override_reason"[^>]*>', page)
    assert "required" in field.group(0)

    response = client.post(f"/sessions/{session.id}/complete", data=completing(session.id))

    assert response.status_code == 409
    error = re.search(
        rf'id="complete-{session.id}-override_reason-error">([^<]*)<', html(response)
    ).group(1)
    assert "Required when the screen says caution." in error
    assert "Allergy history not taken" in error
    assert re.search(r"<details open>\s*<summary>Complete or cancel the session", html(response))
    assert quantity_of(lot) == 10
    assert db.session.scalar(select(func.count()).select_from(Movement)) == 1  # the receipt
    assert db.session.get(TreatmentSession, session.id).status == SessionStatus.PLANNED


def test_a_completion_on_caution_with_a_reason_completes_and_consumes_the_lot(
    client, doctor, stocked_serum
):
    serum, lot = stocked_serum
    patient = factories.make_patient()
    session = factories.make_course(patient, serum).sessions[0]

    response = client.post(
        f"/sessions/{session.id}/complete",
        data=completing(session.id, override_reason="History taken by phone, nothing known"),
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{patient.id}#session-{session.id}"
    assert quantity_of(lot) == 9
    done = db.session.get(TreatmentSession, session.id)
    assert (done.status, done.lot_id, done.technique.value) == (
        SessionStatus.COMPLETED,
        lot.id,
        "gun",
    )
    assert done.override_reason == "History taken by phone, nothing known"
    page = html(client.get(f"/patients/{patient.id}"))
    assert "Session of 3 Mar 2025 completed: 1 dose from lot VS-1." in page
    row = session_row(page, session.id)
    for shown in ("completed", "VS-1", "6 mm", "gun", "80", "History taken by phone"):
        assert shown in row
    assert f'href="/sessions/{session.id}/aftercare"' in row


def test_a_completion_takes_the_chosen_lot_and_records_the_day_it_was_performed(
    client, doctor, stocked_serum
):
    serum, first = stocked_serum
    later = factories.make_lot(
        first.product, lot_number="VS-2", quantity="5", expiry_date=date(2031, 6, 30)
    )
    patient = factories.make_safe_patient()
    session = factories.make_course(patient, serum, start_date=date(2025, 3, 3)).sessions[1]
    page = html(client.get(f"/patients/{patient.id}"))
    picker = re.search(rf'<select[^>]*id="complete-{session.id}-lot_id".*?</select>', page, re.S)
    options = re.findall(r'<option[^>]*value="(\d*)"', picker.group(0))
    assert options == ["", str(first.id), str(later.id)]  # FEFO first, then first expiring

    response = client.post(
        f"/sessions/{session.id}/complete",
        data=completing(session.id, lot_id=later.id, performed_on="2025-03-12", doses="2"),
    )

    assert response.status_code == 302
    assert (quantity_of(first), quantity_of(later)) == (10, 3)
    done = db.session.get(TreatmentSession, session.id)
    assert (done.performed_on, done.doses) == (date(2025, 3, 12), 2)


def test_a_needle_outside_4_to_13_mm_is_refused_next_to_the_field(client, doctor, stocked_serum):
    serum, lot = stocked_serum
    session = factories.make_course(factories.make_safe_patient(), serum).sessions[0]
    response = client.post(
        f"/sessions/{session.id}/complete", data=completing(session.id, needle_mm="20")
    )
    assert response.status_code == 422
    assert re.search(
        rf'id="complete-{session.id}-needle_mm-error">A mesotherapy needle is 4 to 13 mm long.',
        html(response),
    )
    assert quantity_of(lot) == 10


def test_a_contraindicated_serum_is_not_offered_and_cannot_be_planned(client, doctor):
    allergen = factories.make_substance("methylparaben-w")
    unsafe = factories.make_approved_serum(components=[(allergen, 1, "mg")], code="PARA-1")
    safe = factories.make_approved_serum(code="SAFE-1")
    patient = factories.make_safe_patient()
    factories.make_allergy(patient, allergen, criticality="high")

    page = html(client.get(f"/patients/{patient.id}"))
    picker = re.search(r'<select[^>]*id="course-serum_id".*?</select>', page, re.S).group(0)
    assert f'value="{safe.id}"' in picker and f'value="{unsafe.id}"' not in picker

    response = client.post(
        f"/patients/{patient.id}/courses",
        data={"course-serum_id": unsafe.id, "course-start_date": "2025-03-03",
              "course-induction_sessions": "4", "course-maintenance_months": "0",
              "course-doses_per_session": "1"},
    )  # fmt: skip

    assert response.status_code == 409
    error = re.search(r'id="course-serum_id-error">([^<]*)<', html(response)).group(1)
    assert "Allergy to methylparaben-w: the serum contains methylparaben-w." in error
    assert "is contraindicated for this patient" in html(response)
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_a_doctor_plans_a_course_and_sees_its_sessions(client, doctor, stocked_serum):
    serum, _ = stocked_serum
    patient = factories.make_safe_patient()
    response = client.post(
        f"/patients/{patient.id}/courses",
        data={"course-serum_id": serum.id, "course-start_date": "2025-01-31",
              "course-induction_sessions": "5", "course-maintenance_months": "2",
              "course-doses_per_session": "1.5"},
    )  # fmt: skip
    course = db.session.scalar(select(Course).where(Course.patient_id == patient.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{patient.id}#course-{course.id}"
    page = html(client.get(f"/patients/{patient.id}"))
    assert "Course of Vitamin serum planned: 7 sessions from 31 Jan 2025 to 28 Apr 2025." in page
    rows = re.findall(
        r'<tr id="session-\d+" class="session session-planned">\s*'
        r'<td[^>]*><time datetime="([\d-]+)"',
        page,
    )
    assert rows == ["2025-01-31", "2025-02-07", "2025-02-14", "2025-02-21", "2025-02-28",
                    "2025-03-28", "2025-04-28"]  # fmt: skip
    assert "badge-safe" in page[page.index(f'id="course-{course.id}"') :]


def test_a_course_with_missing_fields_is_refused_next_to_them(client, doctor, stocked_serum):
    patient = factories.make_safe_patient()
    response = client.post(
        f"/patients/{patient.id}/courses",
        data={"course-induction_sessions": "4", "course-maintenance_months": "99",
              "course-doses_per_session": "1"},
    )  # fmt: skip
    assert response.status_code == 422
    page = html(response)
    for name in ("serum_id", "start_date", "maintenance_months"):
        assert f'id="course-{name}-error"' in page
    beyond_any_id = client.post(
        f"/patients/{patient.id}/courses",
        data={"course-serum_id": "99999999999999", "course-start_date": "2025-03-03",
              "course-induction_sessions": "4", "course-maintenance_months": "0",
              "course-doses_per_session": "1"},
    )  # fmt: skip
    assert beyond_any_id.status_code == 422
    assert 'id="course-serum_id-error"' in html(beyond_any_id)
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_a_planned_session_is_cancelled_and_cannot_be_cancelled_twice(
    client, doctor, stocked_serum
):
    serum, _ = stocked_serum
    patient = factories.make_safe_patient()
    session = factories.make_course(patient, serum).sessions[2]
    data = {f"cancel-{session.id}-reason": "patient travelling"}
    asked = client.post(f"/sessions/{session.id}/cancel", data=data)
    assert asked.status_code == 200 and "Cancel the session of 17 Mar 2025" in html(asked)
    assert db.session.get(TreatmentSession, session.id).status == SessionStatus.PLANNED
    data["confirmed"] = "yes"
    response = client.post(f"/sessions/{session.id}/cancel", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    done = db.session.get(TreatmentSession, session.id)
    assert (done.status, done.cancelled_reason) == (SessionStatus.CANCELLED, "patient travelling")
    row = session_row(html(client.get(f"/patients/{patient.id}")), session.id)
    assert "cancelled" in row and "patient travelling" in row and "aftercare" not in row

    again = client.post(f"/sessions/{session.id}/cancel", data=data)
    assert again.status_code == 409
    assert "The session of 17 Mar 2025 is cancelled: only a planned session can be cancelled." in (
        html(again)
    )


def test_a_side_effect_is_recorded_on_a_completed_session_only(client, doctor, stocked_serum):
    serum, _ = stocked_serum
    patient = factories.make_safe_patient()
    planned, done = factories.make_course(patient, serum).sessions[:2]
    complete_session(done, doctor, fields=dict(DONE), now=LATER)
    db.session.commit()

    response = client.post(
        f"/sessions/{done.id}/side-effects",
        data={f"effect-{done.id}-kind": "hematoma", f"effect-{done.id}-severity": "mild",
              f"effect-{done.id}-note": "left temple"},
    )  # fmt: skip
    assert response.status_code == 302
    page = html(client.get(f"/patients/{patient.id}"))
    assert "hematoma (mild): left temple" in session_row(page, done.id)
    assert f'id="effect-{planned.id}-kind"' not in page

    refused = client.post(
        f"/sessions/{planned.id}/side-effects",
        data={f"effect-{planned.id}-kind": "rash", f"effect-{planned.id}-severity": "mild"},
    )
    assert refused.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(SideEffect)) == 1


def test_an_administrator_reads_the_courses_without_their_forms(
    client, sign_in_page, stocked_serum
):
    sign_in_page("admin")
    serum, _ = stocked_serum
    patient = factories.make_safe_patient()
    session = factories.make_course(patient, serum).sessions[0]
    page = html(client.get(f"/patients/{patient.id}"))
    assert f'id="session-{session.id}"' in page
    assert 'id="plan-form"' not in page and "complete-form" not in page
    refused = client.post(f"/sessions/{session.id}/complete", data=completing(session.id))
    assert refused.status_code == 403


def test_the_patient_page_sends_the_same_number_of_queries_for_few_and_many_sessions(
    client, doctor, stocked_serum, queries_of_get
):
    serum, _ = stocked_serum
    patient = factories.make_safe_patient()

    def course_with_history(start: date, maintenance: int):
        course = factories.make_course(patient, serum, start_date=start,
                                       maintenance_months=maintenance)  # fmt: skip
        first = course.sessions[0]
        complete_session(first, doctor, fields=dict(DONE), now=LATER)
        record_side_effect(first, "redness", severity="mild", note=None, doctor=doctor, now=LATER)
        db.session.commit()

    def measure():
        return queries_of_get(f"/patients/{patient.id}")[0]

    course_with_history(date(2025, 3, 3), 0)
    few = measure()
    other = factories.make_approved_serum(code="VIT-2")
    factories.make_lot(factories.make_serum_product(other), quantity="50")
    for month in range(4, 9):
        course_with_history(date(2025, month, 3), 12)
        factories.make_course(patient, other, start_date=date(2025, month, 10))
    assert measure() == few


def test_the_aftercare_sheet_puts_its_print_stylesheet_in_the_head(client, doctor, stocked_serum):
    serum, _ = stocked_serum
    session = factories.make_course(factories.make_safe_patient(), serum).sessions[0]
    page = html(client.get(f"/sessions/{session.id}/aftercare"))
    head = page[: page.index("</head>")]
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in head


def test_course_and_session_forms_carry_their_csrf_tokens_and_are_refused_without(
    csrf_client, stocked_serum
):
    serum, lot = stocked_serum
    username = factories.make_user(role="doctor").username
    patient = factories.make_safe_patient()
    planned, done = factories.make_course(patient, serum).sessions[:2]
    complete_session(done, factories.make_user(role="doctor"), fields=dict(DONE), now=LATER)
    db.session.commit()
    # The other app's requests end the test's session: keep the ids, not the objects.
    patient_id, planned_id, done_id, lot_id = patient.id, planned.id, done.id, lot.id
    login = csrf_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    signed_in = csrf_client.post(
        "/login",
        data={"username": username, "password": factories.DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 302

    page = csrf_client.get(f"/patients/{patient_id}").get_data(as_text=True)
    for name in ("course", f"complete-{planned_id}", f"cancel-{planned_id}", f"effect-{done_id}"):
        assert f'name="{name}-csrf_token"' in page

    refused = csrf_client.post(f"/sessions/{planned_id}/complete", data=completing(planned_id))
    assert refused.status_code == 400
    assert db.session.scalar(select(Lot.quantity_on_hand).where(Lot.id == lot_id)) == 9


# --- planning at a site ----------------------------------------------------------------------

PLAN = {"course-start_date": "2025-03-03", "course-induction_sessions": "4",
        "course-maintenance_months": "0", "course-doses_per_session": "1"}  # fmt: skip


def test_a_doctor_at_several_sites_chooses_where_a_course_takes_place(
    client, sign_in_page, stocked_serum
):
    serum, _ = stocked_serum
    main_site = factories.clinic_site()
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    factories.make_site(code=factories.unique("PARIS-"), name="Paris")
    sign_in_page(factories.make_user(role="doctor", sites=[main_site, lyon]))
    patient = factories.make_safe_patient()
    form = html(client.get(f"/patients/{patient.id}"))
    offered = re.findall(
        r'<option[^>]*value="(\d*)"[^>]*>([^<]*)</option>',
        form[
            form.index('id="course-site_id"') : form.index(
                "</select>", form.index('id="course-site_id"')
            )
        ],
    )
    assert offered == [("", "Choose the site"), (str(lyon.id), "Lyon"),
                       (str(main_site.id), main_site.name)]  # fmt: skip
    url = f"/patients/{patient.id}/courses"
    refused = client.post(url, data={**PLAN, "course-serum_id": serum.id})
    assert refused.status_code == 422
    assert 'id="course-site_id-error">Choose the site.' in html(refused)
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0
    planned = client.post(url, data={**PLAN, "course-serum_id": serum.id,
                                      "course-site_id": lyon.id})  # fmt: skip
    assert planned.status_code == 302
    course = db.session.scalar(select(Course).where(Course.patient_id == patient.id))
    assert course.site_id == lyon.id
    assert {session.site_id for session in course.sessions} == {lyon.id}
    assert "At Lyon." in html(client.get(f"/patients/{patient.id}"))


def test_a_site_the_doctor_does_not_work_at_cannot_be_chosen_for_a_course(
    client, sign_in_page, stocked_serum
):
    serum, _ = stocked_serum
    main_site = factories.clinic_site()
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    paris = factories.make_site(code=factories.unique("PARIS-"), name="Paris")
    sign_in_page(factories.make_user(role="doctor", sites=[main_site, lyon]))
    patient = factories.make_safe_patient()
    refused = client.post(f"/patients/{patient.id}/courses",
                          data={**PLAN, "course-serum_id": serum.id,
                                "course-site_id": paris.id})  # fmt: skip
    assert refused.status_code == 422
    assert 'id="course-site_id-error"' in html(refused)
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_the_site_chosen_in_the_header_or_the_doctors_only_site_is_where_a_course_goes(
    client, sign_in_page, stocked_serum
):
    serum, _ = stocked_serum
    main_site = factories.clinic_site()
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    sign_in_page(factories.make_user(role="doctor", sites=[main_site, lyon]))
    client.post("/site", data={"site_id": lyon.id})
    patient = factories.make_safe_patient()
    assert 'id="course-site_id"' not in html(client.get(f"/patients/{patient.id}"))
    planned = client.post(f"/patients/{patient.id}/courses",
                          data={**PLAN, "course-serum_id": serum.id})  # fmt: skip
    assert planned.status_code == 302
    course = db.session.scalar(select(Course).where(Course.patient_id == patient.id))
    assert course.site_id == lyon.id
    client.post("/logout")
    sign_in_page("doctor")  # at the main site only
    other = factories.make_safe_patient()
    assert 'id="course-site_id"' not in html(client.get(f"/patients/{other.id}"))
    client.post(f"/patients/{other.id}/courses", data={**PLAN, "course-serum_id": serum.id})
    course = db.session.scalar(select(Course).where(Course.patient_id == other.id))
    assert course.site_id == main_site.id


def test_a_session_offers_only_the_lots_of_its_own_site(client, sign_in_page, stocked_serum):
    serum, here = stocked_serum
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    there = factories.make_lot(here.product, lot_number="VS-LYON", quantity="10",
                               site_id=lyon.id)  # fmt: skip
    course = factories.make_course(serum=serum, site_id=lyon.id)
    sign_in_page(factories.make_user(role="doctor", sites=[lyon]))
    page = html(client.get(f"/patients/{course.patient_id}"))
    assert f'<option value="{there.id}">VS-LYON' in page
    assert "VS-1 ·" not in page

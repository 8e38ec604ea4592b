"""Courses: weekly induction then monthly maintenance with the month-end rule, planned only
for an approved serum the patient's screen does not contraindicate."""

from datetime import date

import pytest
from sqlalchemy import func, select

from clinic.courses import add_months, session_dates
from clinic.models import Course, TreatmentSession
from core.database import db
from tests import factories


def test_induction_sessions_are_a_week_apart_from_the_start_date():
    assert session_dates(date(2025, 3, 3), 4, maintenance_months=0) == [
        date(2025, 3, 3),
        date(2025, 3, 10),
        date(2025, 3, 17),
        date(2025, 3, 24),
    ]


def test_maintenance_after_a_last_weekly_session_on_31_january_falls_on_month_ends():
    # Start 3 January: weekly 3, 10, 17, 24, 31 January.
    dates = session_dates(date(2025, 1, 3), 5, maintenance_months=3)
    assert dates[4] == date(2025, 1, 31)
    assert dates[5:] == [date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]


def test_maintenance_in_a_leap_year_falls_on_29_february():
    dates = session_dates(date(2028, 1, 10), 4, maintenance_months=2)
    assert dates[3] == date(2028, 1, 31)
    assert dates[4:] == [date(2028, 2, 29), date(2028, 3, 31)]


def test_maintenance_months_are_counted_from_the_last_weekly_session_not_from_each_other():
    # Drifting month to month would give 28 February then 28 March.
    assert add_months(date(2025, 1, 31), 2) == date(2025, 3, 31)


def test_maintenance_crosses_the_year_end():
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)


def plan(client, headers, patient, serum, **fields):
    body = {"serum_id": serum.id, "start_date": "2025-01-03", "induction_sessions": 5}
    body.update(fields)
    return client.post(f"/api/patients/{patient.id}/courses", json=body, headers=headers)


def test_a_doctor_plans_a_course_with_all_its_sessions(client, login_as):
    patient, serum = factories.make_safe_patient(), factories.make_approved_serum()
    response = plan(client, login_as("doctor"), patient, serum, maintenance_months=2)
    assert response.status_code == 201, response.json
    course = response.json
    assert (course["patient_id"], course["serum_id"]) == (patient.id, serum.id)
    assert [s["scheduled_date"] for s in course["sessions"]] == [
        "2025-01-03",
        "2025-01-10",
        "2025-01-17",
        "2025-01-24",
        "2025-01-31",
        "2025-02-28",
        "2025-03-31",
    ]
    assert {s["status"] for s in course["sessions"]} == {"planned"}
    assert {s["patient_id"] for s in course["sessions"]} == {patient.id}


def test_planning_a_contraindicated_serum_is_a_409_with_the_reasons(client, login_as):
    cobalt = factories.make_substance("cobalt-test", "trace_element")
    serum = factories.make_approved_serum(components=[(cobalt, 1, "mg")])
    patient = factories.make_patient()
    factories.make_allergy(patient, cobalt)
    response = plan(client, login_as("doctor"), patient, serum)
    assert response.status_code == 409
    assert response.json["verdict"] == "contraindicated"
    assert response.json["reasons"][0]["kind"] == "allergy"
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_a_caution_serum_can_be_planned(client, login_as):
    patient = factories.make_patient()  # allergy history not taken: caution
    response = plan(client, login_as("doctor"), patient, factories.make_approved_serum())
    assert response.status_code == 201


def test_planning_a_draft_serum_is_a_409(client, login_as):
    serum = factories.make_serum(components=[(factories.make_substance(), 1, "mg")])
    response = plan(client, login_as("doctor"), factories.make_safe_patient(), serum)
    assert response.status_code == 409
    assert "approved" in response.json["message"]


def test_planning_an_unknown_serum_is_a_422_naming_serum_id(client, login_as):
    patient = factories.make_safe_patient()
    response = client.post(
        f"/api/patients/{patient.id}/courses",
        json={"serum_id": 999999, "start_date": "2025-01-03", "induction_sessions": 4},
        headers=login_as("doctor"),
    )
    assert response.status_code == 422
    assert "serum_id" in response.json["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("induction_sessions", 3), ("induction_sessions", 9), ("maintenance_months", -1)],
)
def test_a_course_has_4_to_8_weekly_sessions_and_no_negative_maintenance(
    client, login_as, field, value
):
    response = plan(
        client,
        login_as("doctor"),
        factories.make_safe_patient(),
        factories.make_approved_serum(),
        **{field: value},
    )
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_the_database_refuses_a_course_of_three_weekly_sessions():
    from sqlalchemy.exc import IntegrityError

    patient, serum = factories.make_safe_patient(), factories.make_approved_serum()
    db.session.add(
        Course(patient_id=patient.id, serum_id=serum.id, start_date=date(2025, 1, 1),
               induction_sessions=3)
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(("role", "status"), [("admin", 403), ("pharmacist", 403)])
def test_only_a_doctor_plans_a_course(client, login_as, role, status):
    response = plan(
        client, login_as(role), factories.make_safe_patient(), factories.make_approved_serum()
    )
    assert response.status_code == status


def test_a_patients_courses_list_their_sessions_for_doctors_and_admins(client, login_as):
    course = factories.make_course(maintenance_months=1)
    for role in ("doctor", "admin"):
        response = client.get(f"/api/patients/{course.patient_id}/courses", headers=login_as(role))
        assert response.status_code == 200
        assert [c["id"] for c in response.json] == [course.id]
        assert len(response.json[0]["sessions"]) == 5
    pharmacist = client.get(
        f"/api/patients/{course.patient_id}/courses", headers=login_as("pharmacist")
    )
    assert pharmacist.status_code == 403


def test_courses_of_an_unknown_patient_are_a_404(client, login_as):
    assert client.get("/api/patients/999999/courses", headers=login_as("doctor")).status_code == 404


def test_the_course_list_takes_the_same_queries_for_one_course_or_many(
    client, login_as, queries_of_get
):
    patient = factories.make_safe_patient()
    serum = factories.make_approved_serum()
    doctor = factories.make_user(role="doctor")
    headers = login_as(doctor)
    factories.make_course(patient, serum, doctor=doctor)

    def measured():
        return queries_of_get(f"/api/patients/{patient.id}/courses", headers=headers)[0]

    few = measured()
    for month in range(4, 10):
        factories.make_course(patient, serum, start_date=date(2025, month, 1), doctor=doctor,
                              maintenance_months=2)  # fmt: skip
    assert measured() == few


def test_planned_sessions_carry_the_courses_doses_per_session():
    course = factories.make_course(doses_per_session=2)
    doses = db.session.scalars(
        select(TreatmentSession.doses).where(TreatmentSession.course_id == course.id)
    ).all()
    assert set(doses) == {2}

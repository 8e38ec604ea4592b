"""A course's results (issue 17): the indication and the review date planning gives a course,
assessments at baseline, at the review and after it, the review's decision and the maintenance
plan that follows it, scalp photos (checked by content, within a size limit, upright, scaled
down, without EXIF, stored by content hash, served only to doctors and administrators of the
patient they belong to), the doctor's pages, and the migration of existing courses."""

import hashlib
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import flask_migrate
import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from PIL import Image
from sqlalchemy import func, select, text

from app import create_app
from clinic.assessments import decide_review, record_assessment
from clinic.courses import add_maintenance_sessions, review_date
from clinic.models import (
    AllergyStatus,
    Assessment,
    AssessmentPhoto,
    Indication,
    SessionStatus,
    TreatmentSession,
)
from clinic.safety import screen_approved_serums, screen_patient_serum
from clinic.sessions import complete_session, planned_demand
from config import _review_weeks
from config import database_url as driver_url
from core.audit import AuditEntry
from core.clock import clinic_today
from core.database import db
from core.errors import Conflict, Invalid
from formulary.screen import PatientProfile, Verdict, screen_serum
from tests import factories

PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 120}
SCORES = {"hair_loss": 3, "scalp_health": 5, "itching": 6, "hair_quality": 4}
START = date(2025, 3, 3)  # weekly 3, 10, 17, 24 March; monthly 24 April, May, June
REVIEW_DAY = date(2025, 5, 19)  # START + 11 weeks


def moment(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def photo_folder(app, tmp_path, monkeypatch):
    """Photos go to a folder of the test's own."""
    folder = tmp_path / "photos"
    monkeypatch.setitem(app.config, "PHOTO_FOLDER", str(folder))
    return folder


@pytest.fixture
def doctor():
    return factories.make_user(role="doctor")


@pytest.fixture
def course(doctor):
    """A course of four weekly sessions from START and three monthly, with stock for all."""
    serum = factories.make_approved_serum()
    factories.make_lot(factories.make_serum_product(serum), quantity="100")
    return factories.make_course(serum=serum, start_date=START, maintenance_months=3, doctor=doctor)


def complete_until(course, day: date, doctor) -> None:
    """Complete every session scheduled up to `day`."""
    for session in course.sessions:
        if session.scheduled_date <= day:
            complete_session(
                session, doctor, fields=dict(PROCEDURE), now=moment(session.scheduled_date)
            )
    db.session.commit()


def assessment_fields(kind: str, day: date, **fields) -> dict:
    return {"kind": kind, "date": day, "patient_scores": dict(SCORES), **fields}


def jpeg(size=(300, 200), *, color=(180, 120, 90), exif=None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def upload(client, headers, assessment_id, content: bytes, *, view="vertex", name="scalp.jpg"):
    return client.post(
        f"/api/assessments/{assessment_id}/photos",
        data={"view": view, "file": (io.BytesIO(content), name, "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )


# --- the indication and the review date --------------------------------------------------------


def test_planning_schedules_the_review_eleven_weeks_after_the_first_session(course):
    assert course.review_date == date(2025, 5, 19) == START + timedelta(weeks=11)
    assert course.indication == Indication.ANDROGENETIC_ALOPECIA
    # The maintenance sessions are planned as before (SPEC 3.6), so that stock is forecast.
    assert [s.scheduled_date for s in course.sessions][4:] == [
        date(2025, 4, 24), date(2025, 5, 24), date(2025, 6, 24)
    ]  # fmt: skip


def test_the_review_follows_the_configured_weeks_from_10_to_12(app, monkeypatch):
    monkeypatch.setitem(app.config, "REVIEW_WEEKS_AFTER_FIRST_SESSION", 10)
    assert review_date(START) == date(2025, 5, 12)
    assert review_date(START, weeks=12) == date(2025, 5, 26)
    assert _review_weeks("12") == 12
    for outside in ("9", "13"):
        with pytest.raises(ValueError, match="10 to 12 weeks"):
            _review_weeks(outside)


def test_the_course_api_says_the_indication_and_the_review_date(client, login_as):
    patient, serum = factories.make_safe_patient(), factories.make_approved_serum()
    body = {"serum_id": serum.id, "start_date": "2025-03-03", "induction_sessions": 4}
    headers = login_as("doctor")
    planned = client.post(f"/api/patients/{patient.id}/courses", json=body, headers=headers)
    assert planned.status_code == 201, planned.json
    assert planned.json["indication"] == "androgenetic_alopecia"
    assert planned.json["review_date"] == "2025-05-19"
    wrong = client.post(
        f"/api/patients/{patient.id}/courses", json=body | {"indication": "alopecia"},
        headers=headers,
    )  # fmt: skip
    assert wrong.status_code == 422 and "indication" in wrong.json["errors"]


def unstaged_patient():
    """A patient whose allergy history is taken and whose alopecia stage is not recorded."""
    return factories.make_patient(
        sex="female", alopecia_scale=None, alopecia_stage=None,
        allergy_status=AllergyStatus.NO_KNOWN_ALLERGIES,
    )  # fmt: skip


def test_postpartum_hair_loss_without_a_stage_is_not_a_caution():
    profile = PatientProfile(sex="female", alopecia_scale=None, alopecia_stage=None,
                             allergy_status="no_known_allergies")  # fmt: skip
    assert screen_serum(profile, []).verdict == Verdict.CAUTION
    postpartum = PatientProfile(
        sex="female",
        alopecia_scale=None,
        alopecia_stage=None,
        allergy_status="no_known_allergies",
        indication="postpartum",
    )
    assert screen_serum(postpartum, []).verdict == Verdict.SAFE
    # Androgenetic alopecia is staged as before, whether said or not.
    staged = PatientProfile(sex="female", alopecia_scale=None, alopecia_stage=None,
                            allergy_status="no_known_allergies",
                            indication="androgenetic_alopecia")  # fmt: skip
    assert screen_serum(staged, []).reasons[0].subject == "no alopecia stage"


def test_a_postpartum_course_is_planned_and_completed_without_a_stage_or_an_override(
    client, login_as, doctor
):
    patient = unstaged_patient()
    serum = factories.make_approved_serum()
    factories.make_lot(factories.make_serum_product(serum), quantity="10")
    assert screen_patient_serum(patient, serum).verdict == Verdict.CAUTION
    assert screen_patient_serum(patient, serum, indication="postpartum").verdict == Verdict.SAFE
    course = factories.make_course(
        patient=patient, serum=serum, start_date=START, doctor=doctor, indication="postpartum"
    )
    # Completing re-runs the screen as for the course's indication: nothing to override.
    session = complete_session(
        course.sessions[0], doctor, fields=dict(PROCEDURE), now=moment(START)
    )
    assert session.status == SessionStatus.COMPLETED and session.screen_verdict == Verdict.SAFE


def test_the_serum_listing_keeps_the_stage_rules_unless_an_indication_is_given(client, login_as):
    patient = unstaged_patient()
    factories.make_approved_serum()
    headers = login_as("doctor")
    listed = client.get(f"/api/patients/{patient.id}/serums", headers=headers).json
    assert {item["verdict"] for item in listed} == {"caution"}
    postpartum = client.get(
        f"/api/patients/{patient.id}/serums?indication=postpartum", headers=headers
    ).json
    assert {item["verdict"] for item in postpartum} == {"safe"}
    assert {s.screen.verdict for s in screen_approved_serums(patient)} == {Verdict.CAUTION}


# --- assessments and their rules ---------------------------------------------------------------


def test_a_baseline_comes_before_the_first_session_once_and_scores_0(course, doctor):
    now = moment(START)
    with pytest.raises(Invalid) as late:
        record_assessment(course, fields=assessment_fields("baseline", START + timedelta(1)),
                          doctor=doctor, now=moment(START + timedelta(1)))  # fmt: skip
    assert "date" in late.value.errors
    with pytest.raises(Invalid) as not_zero:
        record_assessment(course, fields=assessment_fields("baseline", START, global_assessment=1),
                          doctor=doctor, now=now)  # fmt: skip
    assert "global_assessment" in not_zero.value.errors
    baseline = record_assessment(course, fields=assessment_fields("baseline", START),
                                 doctor=doctor, now=moment(START))  # fmt: skip
    assert (baseline.kind, baseline.global_assessment, baseline.date) == ("baseline", 0, START)
    with pytest.raises(Conflict):
        record_assessment(course, fields=assessment_fields("baseline", START),
                          doctor=doctor, now=moment(START))  # fmt: skip


def test_the_review_comes_on_or_after_the_first_session_and_a_follow_up_after_it(course, doctor):
    now = moment(REVIEW_DAY + timedelta(days=30))
    with pytest.raises(Invalid) as early:
        record_assessment(course, fields=assessment_fields("review", START - timedelta(1),
                          global_assessment=1), doctor=doctor, now=now)  # fmt: skip
    assert "date" in early.value.errors
    with pytest.raises(Invalid) as unscored:
        record_assessment(course, fields=assessment_fields("review", REVIEW_DAY),
                          doctor=doctor, now=now)  # fmt: skip
    assert "global_assessment" in unscored.value.errors
    with pytest.raises(Conflict, match="record the review first"):
        record_assessment(course, fields=assessment_fields("follow_up", REVIEW_DAY,
                          global_assessment=1), doctor=doctor, now=now)  # fmt: skip
    review = record_assessment(course, fields=assessment_fields("review", REVIEW_DAY,
                               global_assessment=2), doctor=doctor, now=now)  # fmt: skip
    assert review.decision is None
    with pytest.raises(Conflict, match="already has its review"):
        record_assessment(course, fields=assessment_fields("review", REVIEW_DAY,
                          global_assessment=2), doctor=doctor, now=now)  # fmt: skip
    follow_up = record_assessment(
        course, fields=assessment_fields("follow_up", REVIEW_DAY + timedelta(28),
                                         global_assessment=3), doctor=doctor, now=now,
    )  # fmt: skip
    assert follow_up.kind == "follow_up"


def test_an_assessment_is_never_dated_after_today_and_its_scores_are_0_to_10(
    client, login_as, course
):
    url = f"/api/courses/{course.id}/assessments"
    headers = login_as("doctor")
    tomorrow = (clinic_today() + timedelta(days=1)).isoformat()
    body = {"kind": "review", "global_assessment": 1, "patient_scores": SCORES}
    future = client.post(url, json=body | {"date": tomorrow}, headers=headers)
    assert future.status_code == 422 and "date" in future.json["errors"]
    scores = client.post(
        url, json=body | {"patient_scores": SCORES | {"itching": 11}}, headers=headers
    )
    assert scores.status_code == 422 and "patient_scores.itching" in scores.json["errors"]
    decided = client.post(
        url, json=body | {"kind": "follow_up", "decision": "stop"}, headers=headers
    )
    assert decided.status_code == 422 and "decision" in decided.json["errors"]
    pulled = client.post(url, json=body | {"pull_test_count": -1}, headers=headers)
    assert pulled.status_code == 422 and "pull_test_count" in pulled.json["errors"]


def test_the_api_records_and_lists_a_courses_assessments_oldest_first(client, login_as, course):
    url = f"/api/courses/{course.id}/assessments"
    headers = login_as("doctor")
    baseline = client.post(
        url, json={"kind": "baseline", "date": "2025-03-03", "patient_scores": SCORES,
                   "pull_test_count": 12}, headers=headers,
    )  # fmt: skip
    assert baseline.status_code == 201, baseline.json
    assert baseline.json | {"id": 0, "recorded_at": ""} == {
        "id": 0, "course_id": course.id, "date": "2025-03-03", "kind": "baseline",
        "global_assessment": 0, "patient_scores": SCORES, "pull_test_count": 12, "note": None,
        "decision": None, "decided_at": None, "decided_by_id": None,
        "recorded_by_id": baseline.json["recorded_by_id"], "recorded_at": "", "photos": [],
    }  # fmt: skip
    review = client.post(
        url, json={"kind": "review", "date": "2025-05-19", "global_assessment": 2,
                   "patient_scores": SCORES | {"hair_loss": 7}}, headers=headers,
    )  # fmt: skip
    assert review.status_code == 201, review.json
    listed = client.get(url, headers=login_as("admin"))
    assert listed.status_code == 200
    assert [(a["kind"], a["date"]) for a in listed.json] == [
        ("baseline", "2025-03-03"), ("review", "2025-05-19")
    ]  # fmt: skip
    assert client.get("/api/courses/999999/assessments", headers=headers).status_code == 404


@pytest.mark.parametrize("role", ["pharmacist", "admin"])
def test_only_a_doctor_records_an_assessment_decides_or_adds_sessions(
    client, login_as, course, role
):
    headers = login_as(role)
    body = {"kind": "baseline", "date": "2025-03-03", "patient_scores": SCORES}
    assert client.post(f"/api/courses/{course.id}/assessments", json=body,
                       headers=headers).status_code == 403  # fmt: skip
    assert client.post(f"/api/courses/{course.id}/maintenance", json={"sessions": 1},
                       headers=headers).status_code == 403  # fmt: skip
    read = client.get(f"/api/courses/{course.id}/assessments", headers=headers)
    assert read.status_code == (200 if role == "admin" else 403)


# --- the review's decision and the maintenance plan --------------------------------------------


def reviewed(course, doctor, **fields) -> Assessment:
    """The review of REVIEW_DAY, after the weekly sessions and the first monthly one."""
    complete_until(course, date(2025, 4, 24), doctor)
    return record_assessment(
        course, fields=assessment_fields("review", REVIEW_DAY, global_assessment=2, **fields),
        doctor=doctor, now=moment(REVIEW_DAY),
    )  # fmt: skip


def statuses(course) -> list[tuple[date, str]]:
    db.session.expire_all()
    return [(s.scheduled_date, s.status.value) for s in course.sessions]


def test_continuing_keeps_the_planned_maintenance_sessions(course, doctor):
    review = reviewed(course, doctor)
    before = statuses(course)
    assert (
        decide_review(review, "continue_maintenance", doctor=doctor, now=moment(REVIEW_DAY)) == []
    )
    assert statuses(course) == before
    assert [day for day, status in before if status == "planned"] == [
        date(2025, 5, 24), date(2025, 6, 24)
    ]  # fmt: skip


@pytest.mark.parametrize("decision", ["stop", "change_serum"])
def test_stopping_or_changing_the_serum_cancels_every_session_planned_after_the_review(
    client, login_as, course, doctor, decision
):
    review = reviewed(course, doctor)
    db.session.commit()
    assert sum(d.doses for d in planned_demand(REVIEW_DAY, date(2025, 12, 31))) == 2
    response = client.post(
        f"/api/assessments/{review.id}/decision", json={"decision": decision},
        headers=login_as(doctor),
    )  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["decision"] == decision and response.json["decided_at"]
    assert statuses(course) == [
        *((day, "completed") for day in (date(2025, 3, d) for d in (3, 10, 17, 24))),
        (date(2025, 4, 24), "completed"),
        (date(2025, 5, 24), "cancelled"),
        (date(2025, 6, 24), "cancelled"),
    ]
    words = {"stop": "stop the treatment", "change_serum": "change the serum"}[decision]
    reasons = {s.cancelled_reason for s in course.sessions if s.status == SessionStatus.CANCELLED}
    assert reasons == {f"Review of 19 May 2025: {words}."}
    # The forecast no longer counts them; the audit log has each cancellation, in one write.
    assert planned_demand(REVIEW_DAY, date(2025, 12, 31)) == []
    cancelled_ids = {str(s.id) for s in course.sessions if s.status == SessionStatus.CANCELLED}
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "sessions", AuditEntry.action == "update",
                                 AuditEntry.entity_id.in_(cancelled_ids))
    ).all()  # fmt: skip
    assert {e.entity_id for e in entries} == cancelled_ids
    assert {e.changes["status"]["new"] for e in entries} == {"cancelled"}
    decided = db.session.scalar(
        select(AuditEntry).where(AuditEntry.entity == "assessments",
                                 AuditEntry.entity_id == str(review.id),
                                 AuditEntry.action == "update")
    )  # fmt: skip
    assert decided.changes["decision"]["new"] == decision and decided.at == entries[0].at
    again = client.post(
        f"/api/assessments/{review.id}/decision", json={"decision": "continue_maintenance"},
        headers=login_as(doctor),
    )  # fmt: skip
    assert again.status_code == 409


def test_a_review_may_decide_as_it_is_recorded(course, doctor):
    review = reviewed(course, doctor, decision="stop")
    assert review.decision == "stop"
    assert [day for day, status in statuses(course) if status == "cancelled"] == [
        date(2025, 5, 24), date(2025, 6, 24)
    ]  # fmt: skip


def test_only_a_review_decides(course, doctor):
    baseline = record_assessment(course, fields=assessment_fields("baseline", START),
                                 doctor=doctor, now=moment(START))  # fmt: skip
    with pytest.raises(Conflict, match="only the review"):
        decide_review(baseline, "stop", doctor=doctor, now=moment(START))


def test_the_doctor_extends_maintenance_monthly_after_the_last_session(
    client, login_as, course, doctor
):
    review = reviewed(course, doctor)
    decide_review(review, "continue_maintenance", doctor=doctor, now=moment(REVIEW_DAY))
    db.session.commit()
    added = add_maintenance_sessions(course, 2, as_of=REVIEW_DAY)
    assert [s.scheduled_date for s in added] == [date(2025, 7, 24), date(2025, 8, 24)]
    assert course.maintenance_months == 5
    # Past the last session, today is where the months count from.
    later = add_maintenance_sessions(course, 1, as_of=date(2025, 10, 31))
    assert [s.scheduled_date for s in later] == [date(2025, 11, 30)]
    response = client.post(
        f"/api/courses/{course.id}/maintenance", json={"sessions": 1}, headers=login_as(doctor)
    )
    assert response.status_code == 200, response.json
    assert len(response.json["sessions"]) == 7 + 2 + 1 + 1
    assert response.json["sessions"][-1]["status"] == "planned"


def test_no_session_is_added_once_the_review_stopped_the_course(client, login_as, course, doctor):
    review = reviewed(course, doctor, decision="stop")
    db.session.commit()
    with pytest.raises(Conflict, match="decided to stop"):
        add_maintenance_sessions(course, 1, as_of=REVIEW_DAY)
    response = client.post(
        f"/api/courses/{course.id}/maintenance", json={"sessions": 1}, headers=login_as(doctor)
    )
    assert response.status_code == 409
    assert review.decision == "stop"


# --- photos ------------------------------------------------------------------------------------


@pytest.fixture
def baseline(course, doctor):
    assessment = record_assessment(course, fields=assessment_fields("baseline", START),
                                   doctor=doctor, now=moment(START))  # fmt: skip
    db.session.commit()
    return assessment


def test_a_photo_is_kept_upright_scaled_down_without_its_exif_under_its_content_hash(
    app, client, login_as, baseline, photo_folder, monkeypatch
):
    monkeypatch.setitem(app.config, "PHOTO_MAX_PIXELS", 120)
    exif = Image.Exif()
    exif[0x010F] = "Phonemaker"  # Make
    exif[0x0110] = "Model 12 Pro"  # Model
    exif[0x0132] = "2025:03:03 09:12:00"  # DateTime
    exif[0x0112] = 6  # Orientation: the camera was held upright, the pixels lie sideways
    original = jpeg((300, 200), exif=exif.tobytes())
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "Phonemaker"

    response = upload(client, login_as("doctor"), baseline.id, original)
    assert response.status_code == 201, response.json
    [photo] = response.json["photos"]
    assert (photo["view"], photo["media_type"]) == ("vertex", "image/jpeg")
    assert (photo["width"], photo["height"]) == (80, 120)  # upright, longest side 120
    assert photo["url"] == f"/api/patients/{baseline.course.patient_id}/photos/{photo['id']}"

    stored = db.session.get(AssessmentPhoto, photo["id"])
    [path] = list(photo_folder.rglob("*.jpg"))
    content = path.read_bytes()
    assert path == photo_folder / stored.content_hash[:2] / f"{stored.content_hash}.jpg"
    assert hashlib.sha256(content).hexdigest() == stored.content_hash
    kept = Image.open(io.BytesIO(content))
    assert kept.size == (80, 120)
    assert dict(kept.getexif()) == {} and "exif" not in kept.info
    assert b"Exif" not in content and b"Phonemaker" not in content
    # Under the instance folder, never the static one: only the photo routes serve it.
    assert not path.is_relative_to(app.static_folder)


def test_a_png_stays_a_png(client, login_as, baseline, photo_folder):
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (10, 200, 30, 128)).save(out, "PNG")
    response = upload(client, login_as("doctor"), baseline.id, out.getvalue(), name="a.png")
    assert response.status_code == 201, response.json
    assert response.json["photos"][0]["media_type"] == "image/png"
    [path] = list(photo_folder.rglob("*.png"))
    with Image.open(path) as kept:
        assert kept.mode == "RGBA"


@pytest.mark.parametrize(
    "content",
    [
        b"not an image at all, whatever the name says",
        jpeg()[:200],  # cut short
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",  # an image, not JPEG or PNG
    ],
    ids=["text", "truncated-jpeg", "gif"],
)
def test_an_upload_that_is_not_a_whole_jpeg_or_png_is_refused(
    client, login_as, baseline, photo_folder, content
):
    response = upload(client, login_as("doctor"), baseline.id, content)
    assert response.status_code == 422, response.json
    assert "JPEG or PNG" in response.json["errors"]["file"][0]
    assert db.session.scalar(select(func.count()).select_from(AssessmentPhoto)) == 0
    assert not photo_folder.exists() or not any(photo_folder.rglob("*.*"))


def test_a_photo_over_the_size_limit_is_refused_naming_the_field(
    app, client, login_as, baseline, monkeypatch
):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1000)
    noisy = Image.effect_noise((400, 400), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=95)
    large = out.getvalue()
    assert len(large) > 1000
    response = upload(client, login_as("doctor"), baseline.id, large)
    assert response.status_code == 422
    assert response.json["errors"]["file"] == ["The photo is larger than 1000 bytes."]
    missing = client.post(
        f"/api/assessments/{baseline.id}/photos", data={"view": "top"},
        headers=login_as("doctor"), content_type="multipart/form-data",
    )  # fmt: skip
    assert missing.status_code == 422 and set(missing.json["errors"]) == {"file", "view"}


def test_one_photo_per_view_and_assessment(client, login_as, baseline):
    headers = login_as("doctor")
    assert upload(client, headers, baseline.id, jpeg()).status_code == 201
    again = upload(client, headers, baseline.id, jpeg(color=(1, 1, 1)))
    assert again.status_code == 409 and "view" in again.json["errors"]
    assert upload(client, headers, baseline.id, jpeg(), view="frontal").status_code == 201


def test_a_photo_is_served_only_with_its_own_patients_id_to_doctors_and_admins(
    client, login_as, sign_in_page, baseline
):
    answer = upload(client, login_as("doctor"), baseline.id, jpeg())
    url = answer.json["photos"][0]["url"]
    photo_id = answer.json["photos"][0]["id"]
    patient_id = baseline.course.patient_id
    other = factories.make_safe_patient()
    for role in ("doctor", "admin"):
        with client.get(url, headers=login_as(role)) as served:
            assert served.status_code == 200 and served.mimetype == "image/jpeg"
            assert served.headers["Cache-Control"] == "private, no-store"
            assert Image.open(io.BytesIO(served.data)).format == "JPEG"
        assert client.get(f"/api/patients/{other.id}/photos/{photo_id}",
                          headers=login_as(role)).status_code == 404  # fmt: skip
    assert client.get(url, headers=login_as("pharmacist")).status_code == 403
    assert client.get(url).status_code == 401
    # The page's own route, behind the signed-in session, checks the same.
    page_url = f"/patients/{patient_id}/photos/{photo_id}"
    assert client.get(page_url).status_code == 302  # to /login
    sign_in_page("doctor")
    with client.get(page_url) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert client.get(f"/patients/{other.id}/photos/{photo_id}").status_code == 404


# --- the doctor's pages ------------------------------------------------------------------------


def test_the_doctor_records_a_baseline_with_photos_and_sees_them_with_the_chart(
    client, sign_in_page, doctor
):
    sign_in_page(doctor)
    serum = factories.make_approved_serum()
    course = factories.make_course(
        serum=serum, start_date=clinic_today() + timedelta(days=2), doctor=doctor
    )
    new = client.get(f"/courses/{course.id}/assessments/new?kind=baseline")
    assert new.status_code == 200 and 'enctype="multipart/form-data"' in new.text
    form = {"kind": "baseline", "hair_loss": "2", "scalp_health": "5", "itching": "7",
            "hair_quality": "3", "pull_test_count": "9",
            "photo_vertex": (io.BytesIO(jpeg()), "vertex.jpg"),
            "photo_left": (io.BytesIO(jpeg(color=(9, 9, 9))), "left.jpg")}  # fmt: skip
    response = client.post(
        f"/courses/{course.id}/assessments", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 302, response.text
    assert response.headers["Location"].endswith(f"#course-{course.id}-results")
    page = client.get(f"/patients/{course.patient_id}").text
    assert "recorded with 2 photos" in page
    photos = db.session.scalars(select(AssessmentPhoto).order_by(AssessmentPhoto.id)).all()
    assert [p.view for p in photos] == ["vertex", "left"]
    for photo in photos:
        assert f'src="/patients/{course.patient_id}/photos/{photo.id}"' in page
    assert f'id="course-{course.id}-scores-chart-title"' in page
    assert "<desc" in page and f'id="course-{course.id}-scores"' in page
    assert "Record the review" in page


def test_a_refused_photo_records_nothing_and_says_which_view(client, sign_in_page, doctor):
    sign_in_page(doctor)
    course = factories.make_course(start_date=clinic_today() + timedelta(days=2), doctor=doctor)
    form = {
        "kind": "baseline",
        "hair_loss": "2",
        "scalp_health": "5",
        "itching": "7",
        "hair_quality": "3",
        "photo_frontal": (io.BytesIO(b"not a photo"), "f.jpg"),
    }
    response = client.post(
        f"/courses/{course.id}/assessments", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert 'id="photo_frontal-error"' in response.text
    assert db.session.scalar(select(func.count()).select_from(Assessment)) == 0


def test_a_review_that_stops_asks_first_and_cancels_only_after_the_yes(
    client, sign_in_page, doctor
):
    sign_in_page(doctor)
    serum = factories.make_approved_serum()
    factories.make_lot(factories.make_serum_product(serum), quantity="100")
    start = clinic_today() - timedelta(weeks=11)
    course = factories.make_course(serum=serum, start_date=start, maintenance_months=3,
                                   doctor=doctor)  # fmt: skip
    complete_until(course, clinic_today(), doctor)
    planned = [s.id for s in course.sessions if s.status == SessionStatus.PLANNED]
    assert len(planned) == 2
    form = {
        "kind": "review",
        "global_assessment": "1",
        "hair_loss": "6",
        "scalp_health": "6",
        "itching": "8",
        "hair_quality": "6",
        "decision": "stop",
    }
    asked = client.post(f"/courses/{course.id}/assessments", data=form)
    assert asked.status_code == 200, asked.text
    assert "Stop the treatment" in asked.text and "The decision is not taken yet" in asked.text
    review = db.session.scalar(select(Assessment).where(Assessment.course_id == course.id))
    assert review.kind == "review" and review.decision is None
    assert all(db.session.get(TreatmentSession, i).status == "planned" for i in planned)
    yes = client.post(f"/assessments/{review.id}/decision",
                      data={"decision": "stop", "confirmed": "yes"})  # fmt: skip
    assert yes.status_code == 302
    db.session.expire_all()
    assert all(db.session.get(TreatmentSession, i).status == "cancelled" for i in planned)
    page = client.get(f"/patients/{course.patient_id}").text
    assert "Review decision: stop the treatment. 2 planned sessions cancelled." in page


def test_the_course_form_plans_a_postpartum_course(client, sign_in_page):
    sign_in_page("doctor")
    patient = unstaged_patient()
    serum = factories.make_approved_serum()
    response = client.post(
        f"/patients/{patient.id}/courses",
        data={"course-serum_id": str(serum.id), "course-indication": "postpartum",
              "course-start_date": "2025-03-03", "course-induction_sessions": "4",
              "course-maintenance_months": "0", "course-doses_per_session": "1"},
    )  # fmt: skip
    assert response.status_code == 302, response.text
    page = client.get(f"/patients/{patient.id}").text
    assert "Treats hair loss after pregnancy and childbirth (postpartum)." in page
    assert "review of the results on 19 May 2025" in page


# --- the migration -----------------------------------------------------------------------------


def results_revisions() -> tuple[str, str]:
    """(the revision before this feature's migration, its own), found by its file name."""
    config = current_app.extensions["migrate"].migrate.get_config()
    for script in ScriptDirectory.from_config(config).walk_revisions():
        if Path(script.path).name.endswith("_course_results_indication_review_.py"):
            return script.down_revision, script.revision
    raise AssertionError("the course results migration is missing")


@pytest.mark.own_database
def test_the_migration_gives_existing_courses_their_indication_and_review_date(scratch_db):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db),
                      "REVIEW_WEEKS_AFTER_FIRST_SESSION": 12})  # fmt: skip
    with app.app_context():
        try:
            before, revision = results_revisions()
            flask_migrate.upgrade(revision=before)
            db.session.execute(text(
                "INSERT INTO patients (mrn, name, sex, allergy_status, created_at)"
                " VALUES ('MRN-1', 'Ana', 'female', 'unknown', CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            db.session.execute(text(
                "INSERT INTO serums (code, name, version, status, source, dose_volume_ml,"
                " bud_room_days, bud_refrigerated_days, created_at) VALUES ('S', 'Serum', 1,"
                " 'approved', 'compounded', 2, 1, 7, CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            db.session.execute(text(
                "INSERT INTO courses (patient_id, serum_id, site_id, start_date,"
                " induction_sessions, maintenance_months, doses_per_session, created_at)"
                " SELECT patients.id, serums.id, (SELECT min(id) FROM sites), '2025-03-03', 4,"
                " 0, 1000000, CURRENT_TIMESTAMP FROM patients CROSS JOIN serums"
            ))  # fmt: skip
            db.session.commit()
            flask_migrate.upgrade(revision=revision)
            row = db.session.execute(text("SELECT indication, review_date FROM courses")).one()
            assert (row.indication, str(row.review_date)) == ("androgenetic_alopecia", "2025-05-26")
            db.session.remove()
            flask_migrate.downgrade(revision=before)
            db.session.remove()
            flask_migrate.upgrade()
        finally:
            db.session.remove()
            db.engine.dispose()

"""The results of a course (issue 17): assessments at baseline (before the first session), at
the review (scheduled REVIEW_WEEKS_AFTER_FIRST_SESSION after the first session) and at any
later follow-up, each with the clinician's global photographic assessment, the patient's own
scores, a hair-pull test and scalp photos; and the review's decision, which says how the
course goes on: with its monthly maintenance (which the doctor may extend,
`clinic.courses.add_maintenance_sessions`), or not at all (stop, or change the serum: every
session still planned from the review's day on is cancelled, with the decision as the
reason)."""

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from clinic.courses import STOPPING_DECISIONS
from clinic.models import (
    Assessment,
    AssessmentKind,
    AssessmentPhoto,
    Course,
    PhotoView,
    ReviewDecision,
    SessionStatus,
    TreatmentSession,
)
from clinic.photos import clean_photo, photo_path, read_upload, store_photo
from clinic.sessions import cancel_session
from core.accounts import User
from core.clock import clinic_today, day_text
from core.database import db
from core.errors import Conflict, Invalid, NotFound

GLOBAL_ASSESSMENT = range(-3, 4)
PATIENT_SCORE = range(0, 11)
SCORE_NAMES = ("hair_loss", "scalp_health", "itching", "hair_quality")
# The seven-point scale of the clinician's global photographic assessment.
GLOBAL_ASSESSMENT_WORDS = {
    -3: "much worse",
    -2: "worse",
    -1: "slightly worse",
    0: "no change",
    1: "slightly better",
    2: "better",
    3: "much better",
}
MAX_PULL_TEST_COUNT = 1000


def assessments_query(course_id: int) -> Select:
    """A course's assessments, oldest first, with their photos loaded up front."""
    return (
        select(Assessment)
        .where(Assessment.course_id == course_id)
        .options(selectinload(Assessment.photos))
        .order_by(Assessment.date, Assessment.id)
    )


def patient_assessments(course_ids: list[int]) -> dict[int, list[Assessment]]:
    """The assessments of several courses (a patient's), oldest first, by course: two
    queries whatever their number."""
    by_course: dict[int, list[Assessment]] = {course_id: [] for course_id in course_ids}
    if not course_ids:
        return by_course
    for assessment in db.session.scalars(
        select(Assessment)
        .where(Assessment.course_id.in_(sorted(course_ids)))
        .options(selectinload(Assessment.photos))
        .order_by(Assessment.date, Assessment.id)
    ):
        by_course[assessment.course_id].append(assessment)
    return by_course


def get_assessment(assessment_id: int, *, lock: bool = False) -> Assessment:
    stmt = select(Assessment).where(Assessment.id == assessment_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    assessment = db.session.scalar(stmt)
    if assessment is None:
        raise NotFound(f"No assessment with id {assessment_id}.")
    return assessment


def first_session_day(course: Course) -> date:
    """The day of the course's first session that is not cancelled (performed or planned), or
    its start when every session is cancelled."""
    days = [s.performed_on or s.scheduled_date for s in course.sessions
            if s.status != SessionStatus.CANCELLED]  # fmt: skip
    return min(days, default=course.start_date)


def record_assessment(course: Course, *, fields: dict, doctor: User, now: datetime) -> Assessment:
    """An assessment of the course on `fields["date"]` (today in the clinic unless given; never
    after it). A baseline comes on or before the first session's day, one per course, with a
    global assessment of 0 (the reference later ones compare against); the review on or after
    that day, one per course; a follow-up after the review. A review may decide at once
    (`decide_review`), in the same transaction."""
    today = clinic_today(now)
    kind = AssessmentKind(fields["kind"])
    day = fields.get("date") or today
    if day > today:
        raise Invalid({"date": [f"Cannot be after today ({day_text(today)})."]})
    global_assessment = _global_assessment(kind, fields.get("global_assessment"))
    decision = fields.get("decision")
    if decision is not None and kind != AssessmentKind.REVIEW:
        raise Invalid({"decision": ["Only the review decides how the course goes on."]})
    _check_scores(fields.get("patient_scores") or {}, fields.get("pull_test_count"))
    earlier = db.session.scalars(
        select(Assessment).where(Assessment.course_id == course.id).order_by(Assessment.date)
    ).all()
    _check_kind_and_day(course, kind, day, earlier)
    scores = fields["patient_scores"]
    assessment = Assessment(
        course_id=course.id,
        date=day,
        kind=kind,
        global_assessment=global_assessment,
        hair_loss_score=scores["hair_loss"],
        scalp_health_score=scores["scalp_health"],
        itching_score=scores["itching"],
        hair_quality_score=scores["hair_quality"],
        pull_test_count=fields.get("pull_test_count"),
        note=(fields.get("note") or "").strip() or None,
        recorded_by_id=doctor.id,
        recorded_at=now,
    )
    db.session.add(assessment)
    db.session.flush()
    if decision is not None:
        decide_review(assessment, decision, doctor=doctor, now=now)
    return assessment


def decide_review(
    assessment: Assessment, decision: ReviewDecision | str, *, doctor: User, now: datetime
) -> list[TreatmentSession]:
    """The review's decision, taken once. To continue keeps the planned maintenance sessions;
    to stop or to change the serum cancels every session of the course still planned from the
    review's day on (through the sessions' own cancel rule, so the forecast no longer counts
    them), with the decision as the reason. Answers the sessions cancelled."""
    decision = ReviewDecision(decision)
    if assessment.kind != AssessmentKind.REVIEW:
        raise Conflict(
            f"This is a {assessment.kind.value.replace('_', ' ')} assessment: only the review "
            "decides how the course goes on.",
            {"decision": ["Only on a review."]},
        )
    if assessment.decision is not None:
        raise Conflict(
            f"The review of {day_text(assessment.date)} already decided to "
            f"{assessment.decision.words}.",
            {"decision": ["Already decided."]},
        )
    assessment.decision = decision
    assessment.decided_at = now
    assessment.decided_by_id = doctor.id
    cancelled = []
    if decision in STOPPING_DECISIONS:
        reason = decision_reason(assessment)
        for session in _planned_from(assessment.course_id, assessment.date):
            cancelled.append(cancel_session(session, reason, now=now))
        db.session.expire(assessment.course, ["sessions"])
    db.session.flush()
    return cancelled


def decision_reason(assessment: Assessment) -> str:
    """The reason a session cancelled by the review's decision carries."""
    return f"Review of {day_text(assessment.date)}: {assessment.decision.words}."


def add_photo(
    assessment: Assessment,
    upload: BinaryIO,
    *,
    view: PhotoView | str,
    doctor: User,
    now: datetime,
) -> AssessmentPhoto:
    """A scalp photo of one view, one per view and assessment: checked, scaled down, stripped
    of its metadata and stored by content hash (`clinic.photos`), within the configured limits
    (PHOTO_MAX_BYTES, PHOTO_MAX_PIXELS). The file is written before the transaction commits;
    should it roll back, the file stays unreferenced, harmless under its hash."""
    view = PhotoView(view)
    if any(photo.view == view for photo in assessment.photos):
        raise Conflict(
            f"The assessment of {day_text(assessment.date)} already has a {view.value} photo.",
            {"view": ["Already has a photo of this view."]},
        )
    config = current_app.config
    data = read_upload(upload, max_bytes=config["PHOTO_MAX_BYTES"])
    photo = clean_photo(data, max_pixels=config["PHOTO_MAX_PIXELS"])
    store_photo(photo, config["PHOTO_FOLDER"])
    record = AssessmentPhoto(
        assessment_id=assessment.id,
        view=view,
        content_hash=photo.content_hash,
        media_type=photo.media_type,
        width=photo.width,
        height=photo.height,
        size_bytes=len(photo.content),
        uploaded_by_id=doctor.id,
        uploaded_at=now,
    )
    db.session.add(record)
    db.session.flush()
    db.session.expire(assessment, ["photos"])
    return record


def patient_photo(patient_id: int, photo_id: int) -> AssessmentPhoto:
    """A photo of one of the patient's courses; a photo of another patient is not found, as
    if it did not exist."""
    photo = db.session.scalar(
        select(AssessmentPhoto)
        .join(Assessment, Assessment.id == AssessmentPhoto.assessment_id)
        .join(Course, Course.id == Assessment.course_id)
        .where(AssessmentPhoto.id == photo_id, Course.patient_id == patient_id)
    )
    if photo is None:
        raise NotFound("The patient has no such photo.")
    return photo


def photo_file(photo: AssessmentPhoto) -> Path:
    """Where the photo's file is stored; a file gone missing is not found."""
    folder = current_app.config["PHOTO_FOLDER"]
    path = photo_path(folder, photo.content_hash, media_type=photo.media_type)
    if not path.is_file():
        raise NotFound("The photo's file is missing from the photo folder.")
    return path


@dataclasses.dataclass(frozen=True)
class ViewComparison:
    """One view of the scalp at baseline and at the latest assessment that has it."""

    view: PhotoView
    baseline: Assessment | None
    baseline_photo: AssessmentPhoto | None
    latest: Assessment | None
    latest_photo: AssessmentPhoto | None


def compare_views(assessments: list[Assessment]) -> list[ViewComparison]:
    """Per view that any assessment has a photo of: the baseline's photo against the latest
    later one's, in the order of the views."""
    baseline = next((a for a in assessments if a.kind == AssessmentKind.BASELINE), None)
    later = [a for a in assessments if a.kind != AssessmentKind.BASELINE]
    comparisons = []
    for view in PhotoView:
        before = _photo_of(baseline, view)
        latest = next((a for a in reversed(later) if _photo_of(a, view)), None)
        if before is None and latest is None:
            continue
        comparisons.append(ViewComparison(view, baseline, before, latest, _photo_of(latest, view)))
    return comparisons


def review_of(assessments: list[Assessment]) -> Assessment | None:
    return next((a for a in assessments if a.kind == AssessmentKind.REVIEW), None)


def _photo_of(assessment: Assessment | None, view: PhotoView) -> AssessmentPhoto | None:
    if assessment is None:
        return None
    return next((photo for photo in assessment.photos if photo.view == view), None)


def _global_assessment(kind: AssessmentKind, value: int | None) -> int:
    if kind == AssessmentKind.BASELINE:
        if value not in (None, 0):
            raise Invalid(
                {"global_assessment": ["0 at baseline: it is what later assessments compare "
                                       "against."]}
            )  # fmt: skip
        return 0
    if value is None:
        raise Invalid({"global_assessment": ["Required: from -3 (much worse) to 3 (much better)."]})
    if value not in GLOBAL_ASSESSMENT:
        raise Invalid({"global_assessment": ["From -3 (much worse) to 3 (much better)."]})
    return value


def _check_scores(scores: dict, pull_test_count: int | None) -> None:
    errors = {}
    for name in SCORE_NAMES:
        value = scores.get(name)
        if value is None or value not in PATIENT_SCORE:
            errors[f"patient_scores.{name}"] = ["From 0 to 10."]
    if pull_test_count is not None and not 0 <= pull_test_count <= MAX_PULL_TEST_COUNT:
        errors["pull_test_count"] = [f"From 0 to {MAX_PULL_TEST_COUNT} hairs."]
    if errors:
        raise Invalid(errors)


def _check_kind_and_day(
    course: Course, kind: AssessmentKind, day: date, earlier: list[Assessment]
) -> None:
    first = first_session_day(course)
    same_kind = next((a for a in earlier if a.kind == kind), None)
    if kind == AssessmentKind.BASELINE:
        if same_kind is not None:
            raise Conflict(
                f"The course already has its baseline, of {day_text(same_kind.date)}.",
                {"kind": ["One baseline per course."]},
            )
        if day > first:
            raise Invalid(
                {"date": [f"A baseline comes before the first session ({day_text(first)})."]}
            )
        return
    if kind == AssessmentKind.REVIEW:
        if same_kind is not None:
            raise Conflict(
                f"The course already has its review, of {day_text(same_kind.date)}: record a "
                "follow-up.",
                {"kind": ["One review per course."]},
            )
        if day < first:
            raise Invalid(
                {"date": [f"The review comes on or after the first session ({day_text(first)})."]}
            )
        return
    review = review_of(earlier)
    if review is None:
        raise Conflict(
            "A follow-up comes after the review: record the review first.",
            {"kind": ["No review yet."]},
        )
    if day < review.date:
        raise Invalid(
            {"date": [f"A follow-up comes on or after the review ({day_text(review.date)})."]}
        )


def _planned_from(course_id: int, day: date) -> list[TreatmentSession]:
    """The course's sessions still planned from a day on, locked (PostgreSQL) so that no
    completion slips in between."""
    return db.session.scalars(
        select(TreatmentSession)
        .where(
            TreatmentSession.course_id == course_id,
            TreatmentSession.status == SessionStatus.PLANNED,
            TreatmentSession.scheduled_date >= day,
        )
        .order_by(TreatmentSession.scheduled_date, TreatmentSession.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()

"""Treatment courses (SPEC 3.6): 4 to 8 weekly induction sessions, then one maintenance
session a month, planned for an approved serum the patient's screen does not contraindicate,
with the review of the results 10 to 12 weeks after the first session; the doctor may add
maintenance sessions later."""

from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from clinic.models import (
    Assessment,
    AssessmentKind,
    Course,
    Indication,
    Patient,
    ReviewDecision,
    SessionStatus,
    TreatmentSession,
)
from clinic.safety import screen_patient_serum
from core.accounts import User
from core.clock import day_text
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from core.sites import stock_site_id
from formulary.models import SerumStatus
from formulary.screen import Verdict
from formulary.serums import get_serum

INDUCTION_SESSIONS = range(4, 9)
# Five years of monthly maintenance: a plan longer than that is a typing mistake.
MAX_MAINTENANCE_MONTHS = 60


def add_months(day: date, months: int) -> date:
    """The same day `months` later; a day the month does not have falls on its last day
    (31 January + 1 month is 28 February, or 29 February in a leap year)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return (first_of_next - timedelta(days=1)).day


def session_dates(start: date, induction_sessions: int, *, maintenance_months: int) -> list[date]:
    """Weekly sessions from `start`, then the k-th maintenance session k months after the last
    weekly one. Counting every month from that one session (not from the previous maintenance
    date) keeps a 31st on the 31st whenever the month has one: 31 Jan, 28 Feb, 31 Mar."""
    weekly = [start + timedelta(weeks=week) for week in range(induction_sessions)]
    last_weekly = weekly[-1]
    monthly = [add_months(last_weekly, k) for k in range(1, maintenance_months + 1)]
    return weekly + monthly


def review_date(start_date: date, *, weeks: int | None = None) -> date:
    """When a course's results are reviewed: `weeks` (REVIEW_WEEKS_AFTER_FIRST_SESSION unless
    given) after its first session."""
    if weeks is None:
        weeks = current_app.config["REVIEW_WEEKS_AFTER_FIRST_SESSION"]
    return start_date + timedelta(weeks=weeks)


def get_course(course_id: int, *, lock: bool = False) -> Course:
    """The course; with `lock` its row is locked and re-read (PostgreSQL), so that two changes
    of its plan are made one after the other."""
    stmt = select(Course).where(Course.id == course_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    course = db.session.scalar(stmt)
    if course is None:
        raise NotFound(f"No course with id {course_id}.")
    return course


def courses_query(patient_id: int):
    """A patient's courses, newest first, with their sessions and side effects loaded up
    front (a fixed number of queries whatever their number)."""
    return (
        select(Course)
        .where(Course.patient_id == patient_id)
        .options(selectinload(Course.sessions).selectinload(TreatmentSession.side_effects))
        .order_by(Course.start_date.desc(), Course.id.desc())
    )


def plan_course(
    patient: Patient,
    serum_id: int,
    *,
    start_date: date,
    induction_sessions: int,
    maintenance_months: int,
    doctor: User,
    doses_per_session: Decimal = Decimal(1),
    indication: Indication | str = Indication.ANDROGENETIC_ALOPECIA,
    site_id: int | None = None,
) -> Course:
    """A course and all its planned sessions, and the day of its review. Refused for a serum
    that is not approved or that the patient's screen, as for what the course treats,
    contraindicates (409 with the screen's reasons)."""
    _check_plan(induction_sessions, maintenance_months, doses_per_session)
    indication = _indication(indication)
    serum = get_serum(serum_id, field="serum_id")
    if serum.status != SerumStatus.APPROVED:
        raise Conflict(
            f"Serum {serum.code} version {serum.version} is {serum.status.value}: "
            "only an approved serum can be planned.",
            {"serum_id": ["Not approved."]},
        )
    screen = screen_patient_serum(patient, serum, indication=indication)
    if screen.verdict == Verdict.CONTRAINDICATED:
        raise Conflict(
            f"{serum.name} is contraindicated for this patient.",
            verdict=screen.verdict.value,
            reasons=[reason.as_dict() for reason in screen.reasons],
        )
    site_id = stock_site_id(site_id)
    course = Course(
        patient_id=patient.id,
        serum_id=serum.id,
        site_id=site_id,
        start_date=start_date,
        induction_sessions=induction_sessions,
        maintenance_months=maintenance_months,
        doses_per_session=doses_per_session,
        indication=indication,
        review_date=review_date(start_date),
        created_by_id=doctor.id,
    )
    course.sessions = [
        TreatmentSession(
            patient_id=patient.id,
            site_id=site_id,
            scheduled_date=day,
            status=SessionStatus.PLANNED,
            doses=doses_per_session,
        )
        for day in session_dates(
            start_date, induction_sessions, maintenance_months=maintenance_months
        )
    ]
    db.session.add(course)
    db.session.flush()
    return course


def _check_plan(induction_sessions: int, maintenance_months: int, doses: Decimal) -> None:
    errors = {}
    if induction_sessions not in INDUCTION_SESSIONS:
        errors["induction_sessions"] = ["A course has 4 to 8 weekly sessions."]
    if not 0 <= maintenance_months <= MAX_MAINTENANCE_MONTHS:
        errors["maintenance_months"] = [f"From 0 to {MAX_MAINTENANCE_MONTHS} months."]
    if doses <= 0:
        errors["doses_per_session"] = ["Must be more than 0."]
    if errors:
        raise Invalid(errors)


def _indication(value: Indication | str) -> Indication:
    try:
        return Indication(value)
    except ValueError:
        names = ", ".join(indication.value for indication in Indication)
        raise Invalid({"indication": [f"One of {names}."]}) from None


# The review's decisions after which a course plans nothing more.
STOPPING_DECISIONS = (ReviewDecision.STOP, ReviewDecision.CHANGE_SERUM)


def stopping_review(course: Course) -> Assessment | None:
    """The course's review, when it decided to stop or to change the serum."""
    return db.session.scalar(
        select(Assessment).where(
            Assessment.course_id == course.id,
            Assessment.kind == AssessmentKind.REVIEW,
            Assessment.decision.in_(STOPPING_DECISIONS),
        )
    )


def add_maintenance_sessions(
    course: Course, sessions: int, *, as_of: date
) -> list[TreatmentSession]:
    """Extend a course's monthly maintenance by `sessions` sessions: the j-th j months after
    the course's last session that is not cancelled, or after `as_of` when that is later (a
    plan never adds a session in the past). Refused once the review stopped the course or
    changed its serum (409)."""
    if not 1 <= sessions <= MAX_MAINTENANCE_MONTHS - course.maintenance_months:
        room = MAX_MAINTENANCE_MONTHS - course.maintenance_months
        raise Invalid(
            {"sessions": [f"From 1 to {room}: a course plans at most "
                          f"{MAX_MAINTENANCE_MONTHS} monthly sessions."]}
        )  # fmt: skip
    review = stopping_review(course)
    if review is not None:
        raise Conflict(
            f"The review of {day_text(review.date)} decided to {review.decision.words}: this "
            "course plans no more sessions."
        )
    kept = [s.performed_on or s.scheduled_date for s in course.sessions
            if s.status != SessionStatus.CANCELLED]  # fmt: skip
    anchor = max([*kept, as_of])
    added = [
        TreatmentSession(
            patient_id=course.patient_id,
            site_id=course.site_id,
            scheduled_date=add_months(anchor, month),
            status=SessionStatus.PLANNED,
            doses=course.doses_per_session,
        )
        for month in range(1, sessions + 1)
    ]
    course.sessions.extend(added)
    course.maintenance_months += sessions
    db.session.flush()
    return added

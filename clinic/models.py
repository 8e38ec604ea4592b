"""Clinic tables: patients, their allergies and conditions, the condition rule table the
safety screen reads, and the treatment itself: courses, their sessions and side effects, and
the assessments of a course's results with their scalp photos."""

import datetime as dt
import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.accounts import User
from core.clock import utcnow
from core.database import UTCDateTime, db, value_enum
from core.sites import Site
from formulary.models import Serum, Substance
from formulary.screen import Verdict
from inventory.models import Quantity


class Sex(enum.StrEnum):
    """FHIR administrative gender."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class AlopeciaScale(enum.StrEnum):
    NORWOOD = "norwood"
    LUDWIG = "ludwig"


class AllergyStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    NO_KNOWN_ALLERGIES = "no_known_allergies"
    RECORDED = "recorded"


class Criticality(enum.StrEnum):
    LOW = "low"
    HIGH = "high"
    UNABLE_TO_ASSESS = "unable-to-assess"


class VerificationStatus(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    ENTERED_IN_ERROR = "entered-in-error"


class ClinicalStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    RESOLVED = "resolved"


class Severity(enum.StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Language(enum.StrEnum):
    """The language of what the patient reads: reminders and the aftercare advice."""

    EN = "en"
    FR = "fr"


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(
            "(alopecia_scale IS NULL) = (alopecia_stage IS NULL)", name="alopecia_scale_and_stage"
        ),
        CheckConstraint("alopecia_stage BETWEEN 1 AND 7", name="alopecia_stage_range"),
        Index("ix_patients_name", "name"),
        # The patient list sorted by birth date.
        Index("ix_patients_birth_date", "birth_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    birth_date: Mapped[date | None]
    sex: Mapped[Sex] = mapped_column(value_enum(Sex))
    alopecia_scale: Mapped[AlopeciaScale | None] = mapped_column(value_enum(AlopeciaScale))
    # The stage as its ordinal: Norwood I-VII is 1-7, Ludwig I-III is 1-3.
    alopecia_stage: Mapped[int | None]
    allergy_status: Mapped[AllergyStatus] = mapped_column(
        value_enum(AllergyStatus, length=30), default=AllergyStatus.UNKNOWN
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Contact details, and the patient's consent to be contacted by e-mail: when it was given
    # and who recorded it (both null: never given, or withdrawn; the audit log keeps the history).
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[Language] = mapped_column(
        value_enum(Language, length=5), default=Language.EN, server_default=Language.EN.value
    )
    contact_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_consent_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    # Joined: the consent's {given, at, by} is part of every patient the API answers.
    contact_consent_by: Mapped[User | None] = relationship(lazy="joined")
    allergies: Mapped[list["Allergy"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Allergy.id"
    )
    conditions: Mapped[list["PatientCondition"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="PatientCondition.code"
    )

    @property
    def contact_consent(self) -> dict:
        return {
            "given": self.contact_consent_at is not None,
            "at": self.contact_consent_at,
            "by": self.contact_consent_by.username if self.contact_consent_by else None,
        }

    @property
    def may_be_mailed(self) -> bool:
        """Consent recorded and not withdrawn, and an address to write to."""
        return self.contact_consent_at is not None and bool(self.email)


class Allergy(db.Model):
    """An AllergyIntolerance (FHIR R4) of a patient to a catalogue substance or class, or, when
    the allergen is outside the catalogue (penicillin, cashew nuts), an uncoded allergy kept as
    received: its text and codes. An uncoded allergy weighs on every serum as a caution until
    a doctor links it to a substance or marks it reviewed as not relevant."""

    __tablename__ = "allergies"
    __table_args__ = (
        UniqueConstraint("patient_id", "substance_id", name="uq_allergies_patient_substance"),
        CheckConstraint("substance_id IS NOT NULL OR text IS NOT NULL", name="names_allergen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    substance_id: Mapped[int | None] = mapped_column(
        ForeignKey("substances.id", ondelete="RESTRICT"), index=True
    )
    # The allergen as received or typed, and the codes it came with ([{system, code,
    # display}]), kept as they were so the export carries them back.
    text: Mapped[str | None] = mapped_column(String(200))
    codes: Mapped[list | None] = mapped_column(JSON)
    # The identifier the sending system gave the allergy ("system|value"), so that importing
    # the same list again updates instead of duplicating.
    source_identifier: Mapped[str | None] = mapped_column(String(300))
    criticality: Mapped[Criticality] = mapped_column(
        value_enum(Criticality), default=Criticality.UNABLE_TO_ASSESS
    )
    verification_status: Mapped[VerificationStatus] = mapped_column(
        value_enum(VerificationStatus), default=VerificationStatus.CONFIRMED
    )
    clinical_status: Mapped[ClinicalStatus] = mapped_column(
        value_enum(ClinicalStatus), default=ClinicalStatus.ACTIVE
    )
    reaction: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[Severity | None] = mapped_column(value_enum(Severity))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_not_relevant_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship(back_populates="allergies")
    substance: Mapped[Substance | None] = relationship()
    reviewed_by: Mapped[User | None] = relationship()

    @property
    def counts(self) -> bool:
        """Only active allergies that nobody refuted or entered in error weigh on the screen."""
        return self.clinical_status == ClinicalStatus.ACTIVE and self.verification_status not in (
            VerificationStatus.REFUTED,
            VerificationStatus.ENTERED_IN_ERROR,
        )

    @property
    def allergen(self) -> str:
        """What the allergy is to, in words: the substance, or the text as received."""
        return self.substance.name if self.substance is not None else self.text

    @property
    def unscreened(self) -> bool:
        """An uncoded allergy that counts and that no doctor has reviewed yet."""
        return self.substance_id is None and self.reviewed_not_relevant_at is None and self.counts


class PatientCondition(db.Model):
    __tablename__ = "patient_conditions"
    __table_args__ = (UniqueConstraint("patient_id", "code", name="uq_patient_conditions_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)

    patient: Mapped[Patient] = relationship(back_populates="conditions")


class ConditionRule(db.Model):
    """A row of the condition table the screen applies: data, not code, so an administrator
    can add one."""

    __tablename__ = "condition_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(160))
    verdict: Mapped[Verdict] = mapped_column(value_enum(Verdict))
    message: Mapped[str] = mapped_column(Text)


class SessionStatus(enum.StrEnum):
    PLANNED = "planned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Technique(enum.StrEnum):
    MANUAL = "manual"
    GUN = "gun"


class SideEffectKind(enum.StrEnum):
    RASH = "rash"
    LOCAL_PAIN = "local_pain"
    HEMATOMA = "hematoma"
    REDNESS = "redness"
    ALLERGIC_REACTION = "allergic_reaction"
    OTHER = "other"


class Indication(enum.StrEnum):
    """What a course treats: androgenetic alopecia (staged on Norwood or Ludwig) or hair loss
    after pregnancy and childbirth (not staged)."""

    ANDROGENETIC_ALOPECIA = "androgenetic_alopecia"
    POSTPARTUM = "postpartum"


class Course(db.Model):
    """A planned treatment of one patient with one approved serum version: weekly induction
    sessions, then monthly maintenance (SPEC 3.6)."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("induction_sessions BETWEEN 4 AND 8", name="induction_sessions_range"),
        CheckConstraint("maintenance_months >= 0", name="maintenance_months_not_negative"),
        CheckConstraint("doses_per_session > 0", name="doses_per_session_positive"),
        Index("ix_courses_patient_id_start_date", "patient_id", "start_date"),
        Index("ix_courses_serum_id", "serum_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a treatment history is never erased with its patient or its formula.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    serum_id: Mapped[int] = mapped_column(ForeignKey("serums.id", ondelete="RESTRICT"))
    # Where the patient is treated: its sessions are planned there (issue 15).
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    start_date: Mapped[date] = mapped_column(Date)
    induction_sessions: Mapped[int]
    maintenance_months: Mapped[int] = mapped_column(default=0)
    # What each planned session is expected to use; the forecast counts it.
    doses_per_session: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(1))
    indication: Mapped[Indication] = mapped_column(
        value_enum(Indication, length=30),
        default=Indication.ANDROGENETIC_ALOPECIA,
        server_default=Indication.ANDROGENETIC_ALOPECIA.value,
    )
    # When the results are reviewed: REVIEW_WEEKS_AFTER_FIRST_SESSION after the first session.
    review_date: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    serum: Mapped[Serum] = relationship()
    site: Mapped[Site] = relationship()
    created_by: Mapped[User | None] = relationship()
    sessions: Mapped[list["TreatmentSession"]] = relationship(
        back_populates="course", order_by="[TreatmentSession.scheduled_date, TreatmentSession.id]"
    )


class TreatmentSession(db.Model):
    """One mesotherapy session of a course: planned, then completed (with the lot it used) or
    cancelled."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("needle_mm BETWEEN 4 AND 13", name="needle_mm_range"),
        CheckConstraint("doses > 0", name="doses_positive"),
        CheckConstraint("injection_points > 0", name="injection_points_positive"),
        # The last guard behind the workflow: a completed session says what was done with what.
        CheckConstraint(
            "status <> 'completed' OR (performed_on IS NOT NULL AND lot_id IS NOT NULL"
            " AND needle_mm IS NOT NULL AND technique IS NOT NULL"
            " AND injection_points IS NOT NULL)",
            name="completed_is_recorded",
        ),
        # A patient's sessions between two dates (GET /api/sessions?patient_id=&from=&to=).
        Index("ix_sessions_patient_id_scheduled_date", "patient_id", "scheduled_date"),
        # A day's sessions without a patient, and the forecast's planned sessions in a range.
        Index("ix_sessions_scheduled_date", "scheduled_date"),
        Index("ix_sessions_status_scheduled_date", "status", "scheduled_date"),
        Index("ix_sessions_course_id_scheduled_date", "course_id", "scheduled_date"),
        # The recall trace: every session that used a lot.
        Index("ix_sessions_lot_id", "lot_id"),
        # A site's sessions by day (its list, its forecast's planned sessions).
        Index("ix_sessions_site_id_scheduled_date", "site_id", "scheduled_date"),
        # Vigilance: the sessions performed in a window (clinic.vigilance).
        Index("ix_sessions_status_performed_on", "status", "performed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    # Denormalised from the course, so that a patient's sessions are one indexed range scan.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    # The site it takes place at, whose stock it consumes (the course's, when planned).
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    scheduled_date: Mapped[date] = mapped_column(Date)
    status: Mapped[SessionStatus] = mapped_column(
        value_enum(SessionStatus), default=SessionStatus.PLANNED
    )
    performed_on: Mapped[date | None] = mapped_column(Date)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id", ondelete="RESTRICT"))
    doses: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(1))
    needle_mm: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    technique: Mapped[Technique | None] = mapped_column(value_enum(Technique))
    injection_points: Mapped[int | None]
    # The screen's verdict when the session was completed, and why a caution was overridden.
    screen_verdict: Mapped[Verdict | None] = mapped_column(value_enum(Verdict))
    override_reason: Mapped[str | None] = mapped_column(Text)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(back_populates="sessions")
    site: Mapped[Site] = relationship()
    patient: Mapped[Patient] = relationship()
    completed_by: Mapped[User | None] = relationship()
    # The side effects that stand: one marked entered in error is kept (and in the audit log)
    # but no longer part of the session's record, wherever it is read.
    side_effects: Mapped[list["SideEffect"]] = relationship(
        primaryjoin="and_(TreatmentSession.id == SideEffect.session_id, "
        "SideEffect.entered_in_error_at.is_(None))",
        order_by="SideEffect.id",
        viewonly=True,
    )


class SideEffect(db.Model):
    __tablename__ = "side_effects"
    __table_args__ = (Index("ix_side_effects_session_id", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="RESTRICT"))
    kind: Mapped[SideEffectKind] = mapped_column(value_enum(SideEffectKind))
    severity: Mapped[Severity] = mapped_column(value_enum(Severity))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A side effect recorded by mistake: when and by whom it was marked entered in error.
    entered_in_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entered_in_error_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    session: Mapped[TreatmentSession] = relationship()


class AssessmentKind(enum.StrEnum):
    BASELINE = "baseline"
    REVIEW = "review"
    FOLLOW_UP = "follow_up"


class ReviewDecision(enum.StrEnum):
    CONTINUE_MAINTENANCE = "continue_maintenance"
    STOP = "stop"
    CHANGE_SERUM = "change_serum"

    @property
    def words(self) -> str:
        """The decision as the doctor says it: stop the treatment."""
        return DECISION_WORDS[self]


DECISION_WORDS = {
    ReviewDecision.CONTINUE_MAINTENANCE: "continue with monthly maintenance",
    ReviewDecision.STOP: "stop the treatment",
    ReviewDecision.CHANGE_SERUM: "change the serum",
}


class PhotoView(enum.StrEnum):
    """The standardised views of the scalp."""

    VERTEX = "vertex"
    FRONTAL = "frontal"
    LEFT = "left"
    RIGHT = "right"


class Assessment(db.Model):
    """The results of a course at one visit: the clinician's global photographic assessment
    (-3 much worse to +3 much better, 0 at baseline), the patient's own ratings of the four
    outcomes (0 to 10, 10 the best), a hair-pull test and scalp photos; the review also decides
    how the course goes on."""

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint("global_assessment BETWEEN -3 AND 3", name="global_assessment_range"),
        CheckConstraint(
            "kind <> 'baseline' OR global_assessment = 0", name="baseline_is_the_reference"
        ),
        CheckConstraint("hair_loss_score BETWEEN 0 AND 10", name="hair_loss_score_range"),
        CheckConstraint("scalp_health_score BETWEEN 0 AND 10", name="scalp_health_score_range"),
        CheckConstraint("itching_score BETWEEN 0 AND 10", name="itching_score_range"),
        CheckConstraint("hair_quality_score BETWEEN 0 AND 10", name="hair_quality_score_range"),
        CheckConstraint("pull_test_count >= 0", name="pull_test_count_not_negative"),
        CheckConstraint("decision IS NULL OR kind = 'review'", name="only_a_review_decides"),
        # A course's assessments by date (its results, its chart).
        Index("ix_assessments_course_id_date", "course_id", "date"),
        # One baseline and one review per course.
        Index(
            "uq_assessments_one_baseline_per_course",
            "course_id",
            unique=True,
            sqlite_where=text("kind = 'baseline'"),
            postgresql_where=text("kind = 'baseline'"),
        ),
        Index(
            "uq_assessments_one_review_per_course",
            "course_id",
            unique=True,
            sqlite_where=text("kind = 'review'"),
            postgresql_where=text("kind = 'review'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    # The visit's day (`dt.date`: the attribute's own name hides the type in this class).
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[AssessmentKind] = mapped_column(value_enum(AssessmentKind))
    global_assessment: Mapped[int] = mapped_column(default=0)
    hair_loss_score: Mapped[int]
    scalp_health_score: Mapped[int]
    itching_score: Mapped[int]
    hair_quality_score: Mapped[int]
    pull_test_count: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[ReviewDecision | None] = mapped_column(value_enum(ReviewDecision, length=30))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship()
    photos: Mapped[list["AssessmentPhoto"]] = relationship(
        back_populates="assessment", order_by="AssessmentPhoto.id"
    )

    @property
    def patient_scores(self) -> dict[str, int]:
        return {
            "hair_loss": self.hair_loss_score,
            "scalp_health": self.scalp_health_score,
            "itching": self.itching_score,
            "hair_quality": self.hair_quality_score,
        }


class AssessmentPhoto(db.Model):
    """A scalp photo of an assessment, one per view: checked, scaled down and stripped of its
    metadata on upload, stored under the instance folder by the hash of what was kept."""

    __tablename__ = "assessment_photos"
    __table_args__ = (
        UniqueConstraint("assessment_id", "view", name="uq_assessment_photos_assessment_view"),
        CheckConstraint("width > 0 AND height > 0", name="size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="RESTRICT"))
    view: Mapped[PhotoView] = mapped_column(value_enum(PhotoView))
    # SHA-256 of the stored file, in hex: its name in the photo folder.
    content_hash: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="photos")


class ReminderKind(enum.StrEnum):
    """What a message to the patient about a session says."""

    DAY_BEFORE = "day_before"  # the session is tomorrow: the date, the place, how to prepare
    MOVED = "moved"  # a correction: the session announced is now on another day
    CANCELLED = "cancelled"  # a correction: the session announced will not take place
    AFTERCARE = "aftercare"  # the session took place: what to do now


class SentReminder(db.Model):
    """A message queued to a patient about a session, once per session, kind and the session
    date it is about: the unique key is what makes the reminder job idempotent."""

    __tablename__ = "sent_reminders"
    __table_args__ = (
        UniqueConstraint(
            "session_id", "kind", "session_date", name="uq_sent_reminders_session_kind_date"
        ),
        # The corrections look only at what was announced for the days still to come.
        Index("ix_sent_reminders_session_date", "session_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    kind: Mapped[ReminderKind] = mapped_column(value_enum(ReminderKind, length=20))
    # The day the message told the patient (the new day for a move).
    session_date: Mapped[date] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[Language] = mapped_column(value_enum(Language, length=5))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

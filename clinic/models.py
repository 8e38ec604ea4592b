"""Clinic tables: patients, their allergies and conditions, and the condition rule table the
safety screen reads."""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.database import UTCDateTime, db, value_enum
from formulary.models import Substance
from formulary.screen import Verdict


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


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(
            "(alopecia_scale IS NULL) = (alopecia_stage IS NULL)", name="alopecia_scale_and_stage"
        ),
        CheckConstraint("alopecia_stage BETWEEN 1 AND 7", name="alopecia_stage_range"),
        Index("ix_patients_name", "name"),
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

    allergies: Mapped[list["Allergy"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Allergy.id"
    )
    conditions: Mapped[list["PatientCondition"]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="PatientCondition.code"
    )


class Allergy(db.Model):
    """An AllergyIntolerance (FHIR R4) of a patient to a substance or a class."""

    __tablename__ = "allergies"
    __table_args__ = (
        UniqueConstraint("patient_id", "substance_id", name="uq_allergies_patient_substance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    substance_id: Mapped[int] = mapped_column(
        ForeignKey("substances.id", ondelete="RESTRICT"), index=True
    )
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

    patient: Mapped[Patient] = relationship(back_populates="allergies")
    substance: Mapped[Substance] = relationship()

    @property
    def counts(self) -> bool:
        """Only active allergies that nobody refuted or entered in error weigh on the screen."""
        return self.clinical_status == ClinicalStatus.ACTIVE and self.verification_status not in (
            VerificationStatus.REFUTED,
            VerificationStatus.ENTERED_IN_ERROR,
        )


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

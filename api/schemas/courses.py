"""Schemas of courses (`api.courses`)."""

import marshmallow as ma

from api.pagination import id_field
from api.schemas.fields import NOTE, REASON, Integer, QuantityField
from api.schemas.lean import LeanSchema
from clinic import courses
from clinic.models import Indication, SessionStatus, Severity, SideEffectKind, Technique
from formulary.screen import Verdict


class NeedleField(QuantityField):
    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"description": "Needle length in mm, 4 to 13."})
        super().__init__(**kwargs)


class SideEffectSchema(LeanSchema):
    id = Integer(dump_only=True)
    kind = ma.fields.Enum(SideEffectKind, by_value=True, required=True)
    severity = ma.fields.Enum(Severity, by_value=True, required=True)
    note = ma.fields.String(allow_none=True, load_default=None, validate=NOTE)
    recorded_at = ma.fields.AwareDateTime(dump_only=True)


class SessionSchema(LeanSchema):
    id = Integer()
    course_id = Integer()
    patient_id = Integer()
    site_id = Integer(metadata={"description": "Where it takes place; it uses that site's stock."})
    scheduled_date = ma.fields.Date()
    status = ma.fields.Enum(SessionStatus, by_value=True)
    performed_on = ma.fields.Date(allow_none=True)
    lot_id = Integer(allow_none=True)
    doses = QuantityField(
        dump_only=True, metadata={"description": "Doses planned, or used once completed."}
    )
    needle_mm = NeedleField(allow_none=True)
    technique = ma.fields.Enum(Technique, by_value=True, allow_none=True)
    injection_points = Integer(allow_none=True)
    screen_verdict = ma.fields.Enum(
        Verdict,
        by_value=True,
        allow_none=True,
        metadata={"description": "The safety screen's verdict when the session was completed."},
    )
    override_reason = ma.fields.String(allow_none=True)
    completed_by_id = Integer(allow_none=True)
    completed_at = ma.fields.AwareDateTime(allow_none=True)
    cancelled_reason = ma.fields.String(allow_none=True)
    side_effects = ma.fields.List(ma.fields.Nested(SideEffectSchema))


class CourseSchema(LeanSchema):
    id = Integer(dump_only=True)
    patient_id = Integer(dump_only=True)
    serum_id = Integer(required=True)
    start_date = ma.fields.Date(required=True)
    induction_sessions = Integer(
        required=True,
        validate=ma.validate.Range(min=4, max=8),
        metadata={"description": "Weekly sessions from the start date, 4 to 8."},
    )
    maintenance_months = Integer(
        load_default=0,
        validate=ma.validate.Range(min=0, max=courses.MAX_MAINTENANCE_MONTHS),
        metadata={"description": "Monthly sessions after the last weekly one."},
    )
    doses_per_session = QuantityField(
        load_default=1,
        validate=ma.validate.Range(min=0, min_inclusive=False),
        metadata={"description": "Doses each planned session is expected to use."},
    )
    indication = ma.fields.Enum(
        Indication,
        by_value=True,
        load_default=Indication.ANDROGENETIC_ALOPECIA,
        metadata={
            "description": "What the course treats: androgenetic_alopecia (staged on Norwood "
            "or Ludwig) or postpartum hair loss (no stage needed: a missing stage is no "
            "caution for it). The screen's stage rules follow it."
        },
    )
    review_date = ma.fields.Date(
        dump_only=True,
        metadata={
            "description": "When the results are reviewed: REVIEW_WEEKS_AFTER_FIRST_SESSION "
            "(11 unless configured) after the first session."
        },
    )
    site_id = id_field(
        metadata={"description": "Where the course's sessions take place. Default: the "
                  "doctor's only site (422 naming `site_id` when they work at several)."}
    )  # fmt: skip
    sessions = ma.fields.List(ma.fields.Nested(SessionSchema), dump_only=True)


class CompleteSchema(ma.Schema):
    performed_on = ma.fields.Date(
        metadata={"description": "Default: the scheduled date. Never after today."}
    )
    lot_id = id_field(metadata={"description": "Default: the first usable lot of the serum, FEFO."})
    doses = QuantityField(
        validate=ma.validate.Range(min=0, min_inclusive=False),
        metadata={"description": "Default: the doses planned."},
    )
    needle_mm = NeedleField(required=True, validate=ma.validate.Range(min=4, max=13))
    technique = ma.fields.Enum(Technique, by_value=True, required=True)
    injection_points = Integer(required=True, validate=ma.validate.Range(min=1))
    override_reason = ma.fields.String(
        allow_none=True,
        validate=REASON,
        metadata={"description": "Required when the safety screen says caution."},
    )


class CancelSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True, load_default=None, validate=REASON)


class MoveSchema(ma.Schema):
    scheduled_date = ma.fields.Date(
        required=True,
        metadata={
            "description": "The session's new day (today or later). A patient already reminded "
            "of the old day is sent a correction."
        },
    )


class SessionQuerySchema(ma.Schema):
    patient_id = id_field()
    site_id = id_field(
        metadata={"description": "One site's sessions (403 outside the user's); default: "
                  "every site the user works at."}
    )  # fmt: skip
    first = ma.fields.Date(data_key="from", metadata={"description": "From this date on."})
    last = ma.fields.Date(data_key="to", metadata={"description": "Up to this date, inclusive."})

    @ma.validates_schema
    def from_not_after_to(self, data, **kwargs):
        if "first" in data and "last" in data and data["first"] > data["last"]:
            raise ma.ValidationError({"from": ["After `to`."]})

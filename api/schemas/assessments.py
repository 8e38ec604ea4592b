"""Schemas of a course's assessments and their photos (`api.assessments`)."""

import marshmallow as ma
from flask import url_for

from api.schemas.fields import NOTE, Integer
from clinic import assessments, courses
from clinic.models import AssessmentKind, PhotoView, ReviewDecision


class PhotoSchema(ma.Schema):
    id = Integer()
    view = ma.fields.Enum(PhotoView, by_value=True)
    url = ma.fields.Method(
        "photo_url",
        metadata={
            "description": "Where the photo is served (GET, with a token of a doctor or an "
            "administrator); never public."
        },
    )
    media_type = ma.fields.String(metadata={"description": "image/jpeg or image/png."})
    width = Integer()
    height = Integer()
    uploaded_at = ma.fields.AwareDateTime()

    def photo_url(self, photo) -> str:
        return url_for(
            "assessments.photo",
            patient_id=photo.assessment.course.patient_id,
            photo_id=photo.id,
        )


def _score(outcome: str):
    return Integer(
        required=True,
        validate=ma.validate.Range(min=0, max=10),
        metadata={"description": f"The patient's own rating of {outcome}, 0 to 10 (10 best)."},
    )


class PatientScoresSchema(ma.Schema):
    """The patient's answers to the four outcomes of the clinic's guide."""

    hair_loss = _score("less hair loss")
    scalp_health = _score("a healthier scalp")
    itching = _score("less itching")
    hair_quality = _score("better hair quality")


DECISION = {
    "description": "The review's decision: continue_maintenance keeps the planned monthly "
    "sessions; stop and change_serum cancel every session still planned from the review's "
    "day on. Only on a review, once."
}


class AssessmentSchema(ma.Schema):
    id = Integer(dump_only=True)
    course_id = Integer(dump_only=True)
    date = ma.fields.Date(
        load_default=None,
        metadata={"description": "The visit's day; default today. Never after today."},
    )
    kind = ma.fields.Enum(
        AssessmentKind,
        by_value=True,
        required=True,
        metadata={
            "description": "baseline: on or before the first session, one per course; review: "
            "on or after it, one per course; follow_up: after the review."
        },
    )
    global_assessment = Integer(
        load_default=None,
        validate=ma.validate.Range(min=-3, max=3),
        metadata={
            "description": "The clinician's global photographic assessment, -3 (much worse) to "
            "3 (much better); 0 at baseline (its default there), required otherwise."
        },
    )
    patient_scores = ma.fields.Nested(PatientScoresSchema, required=True)
    pull_test_count = Integer(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=assessments.MAX_PULL_TEST_COUNT),
        metadata={"description": "Hairs that came out in the hair-pull test."},
    )
    note = ma.fields.String(allow_none=True, load_default=None, validate=NOTE)
    decision = ma.fields.Enum(
        ReviewDecision, by_value=True, allow_none=True, load_default=None, metadata=DECISION
    )
    decided_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    decided_by_id = Integer(dump_only=True, allow_none=True)
    recorded_by_id = Integer(dump_only=True, allow_none=True)
    recorded_at = ma.fields.AwareDateTime(dump_only=True)
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema), dump_only=True)


class DecisionSchema(ma.Schema):
    decision = ma.fields.Enum(ReviewDecision, by_value=True, required=True, metadata=DECISION)


class MaintenanceSchema(ma.Schema):
    sessions = Integer(
        required=True,
        validate=ma.validate.Range(min=1, max=courses.MAX_MAINTENANCE_MONTHS),
        metadata={
            "description": "Monthly maintenance sessions to add: the j-th j months after the "
            "course's last session that is not cancelled (or after today, when later)."
        },
    )


# The multipart body of a photo upload, as the document says it (the view reads it itself).
PHOTO_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "view"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A JPEG or PNG image (checked by its content), at most "
                        "PHOTO_MAX_BYTES (10 MB unless configured). Kept upright, scaled down "
                        "to PHOTO_MAX_PIXELS on its longest side, without its metadata.",
                    },
                    "view": {"type": "string", "enum": [view.value for view in PhotoView]},
                },
            }
        }
    },
}

"""A course's results: assessments at baseline, at the review and after it, the review's
decision, and scalp photos, uploaded as multipart and served only to doctors and
administrators, by a URL that names the patient (doctors write, administrators read)."""

from flask import current_app, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.assessments import PHOTO_UPLOAD_BODY, AssessmentSchema, DecisionSchema
from clinic import assessments, courses
from clinic.models import PhotoView
from clinic.photos import photo_too_large
from core.accounts import CLINICAL_ROLES, Role
from core.clock import utcnow
from core.errors import Invalid

blp = Blueprint(
    "assessments",
    __name__,
    url_prefix="/api",
    description="A course's results: assessments, scalp photos, the review's decision.",
)

# Room in a photo's multipart body for the view and the part headers, beyond the photo itself.
MULTIPART_ROOM = 64 * 1024
PHOTO_ANSWER = {
    "200": {
        "description": "The photo, as it was stored (JPEG or PNG).",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in ("image/jpeg", "image/png")
        },
    }
}


@blp.route("/courses/<id:course_id>/assessments", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, AssessmentSchema(many=True))
@blp.paginate(**PAGINATION)
def list_assessments(course_id, pagination_parameters):
    """The course's assessments, oldest first, each with its photos."""
    courses.get_course(course_id)
    return paginate(assessments.assessments_query(course_id), pagination_parameters)


@blp.route("/courses/<id:course_id>/assessments", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(AssessmentSchema)
@blp.response(201, AssessmentSchema)
def record_assessment(fields, course_id):
    """A baseline (on or before the first session), the review (on or after it; it may decide
    at once) or a follow-up (after the review). Photos are uploaded to it afterwards."""
    course = courses.get_course(course_id, lock=True)
    return assessments.record_assessment(
        course, fields=fields, doctor=current_api_user(), now=utcnow()
    )


@blp.route("/assessments/<id:assessment_id>", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, AssessmentSchema)
def get_assessment(assessment_id):
    return assessments.get_assessment(assessment_id)


@blp.route("/assessments/<id:assessment_id>/decision", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.arguments(DecisionSchema)
@blp.response(200, AssessmentSchema)
def decide_review(fields, assessment_id):
    """The review's decision, once: to stop or to change the serum cancels every session still
    planned from the review's day on. Answers the review."""
    assessment = assessments.get_assessment(assessment_id)
    courses.get_course(assessment.course_id, lock=True)
    assessment = assessments.get_assessment(assessment_id, lock=True)
    assessments.decide_review(
        assessment, fields["decision"], doctor=current_api_user(), now=utcnow()
    )
    return assessment


@blp.route("/assessments/<id:assessment_id>/photos", methods=["POST"])
@roles_required(Role.DOCTOR)
@blp.doc(requestBody=PHOTO_UPLOAD_BODY)
@blp.response(201, AssessmentSchema)
def upload_photo(assessment_id):
    """A scalp photo of one view (`file`, `view`), one per view and assessment. Answers the
    assessment with its photos."""
    assessment = assessments.get_assessment(assessment_id)
    upload, view = _photo_upload()
    errors = {}
    if upload is None:
        errors["file"] = ["Missing: the photo, as a multipart file."]
    if view not in {v.value for v in PhotoView}:
        errors["view"] = [f"One of {', '.join(v.value for v in PhotoView)}."]
    if errors:
        raise Invalid(errors)
    assessments.add_photo(
        assessment, upload.stream, view=view, doctor=current_api_user(), now=utcnow()
    )
    return assessment


def _photo_upload():
    """The multipart body's file and view. A body too large even to read (beyond the app's
    MAX_CONTENT_LENGTH, or PHOTO_MAX_BYTES when that is larger) is refused as a photo too
    large, naming the field, as one within it but over PHOTO_MAX_BYTES is."""
    config = current_app.config
    limit = config["PHOTO_MAX_BYTES"]
    request.max_content_length = max(config["MAX_CONTENT_LENGTH"] or 0, limit + MULTIPART_ROOM)
    try:
        return request.files.get("file"), request.form.get("view")
    except RequestEntityTooLarge:
        raise Invalid({"file": [photo_too_large(limit)]}) from None


@blp.route("/patients/<id:patient_id>/photos/<id:photo_id>", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.doc(responses=PHOTO_ANSWER)
def photo(patient_id, photo_id):
    """A photo of one of the patient's assessments; another patient's photo is a 404."""
    found = assessments.patient_photo(patient_id, photo_id)
    return photo_response(assessments.photo_file(found), found.media_type)


def photo_response(path, media_type: str):
    """A patient's photo: never kept by a shared cache, nor by the browser once left."""
    response = send_file(path, mimetype=media_type, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response

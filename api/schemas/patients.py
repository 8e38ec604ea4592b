"""Schemas of patients (`api.patients`)."""

import marshmallow as ma

from api.pagination import id_field
from api.schemas.fields import Integer, JSONBoolean
from api.schemas.lean import LeanSchema
from clinic import patients
from clinic.conditions import CONDITION_CODE, CONDITION_CODE_HINT
from clinic.models import (
    AllergyStatus,
    AlopeciaScale,
    ClinicalStatus,
    Criticality,
    Indication,
    Language,
    Severity,
    Sex,
    VerificationStatus,
)
from core.clock import clinic_today
from formulary.screen import Verdict

# The format is checked once, by clinic.conditions; the document states the same expression.
CONDITION_CODE_DOC = {"description": CONDITION_CODE_HINT, "pattern": f"^{CONDITION_CODE.pattern}$"}


class StageField(ma.fields.Field):
    """A stage reads as its Roman numeral ("IV"); a Roman numeral or a number is accepted and
    checked against the patient's scale by the domain."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})["oneOf"] = [{"type": "string"}, {"type": "integer"}]
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else patients.STAGE_NAMES[value]

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ma.ValidationError("A Roman numeral (I to VII) or a whole number.")
        return value


class ConditionSchema(LeanSchema):
    code = ma.fields.String(required=True, metadata=CONDITION_CODE_DOC)
    active = JSONBoolean(load_default=True)


class ContactConsentSchema(ma.Schema):
    given = JSONBoolean(
        required=True,
        metadata={
            "description": "True records the patient's consent to be contacted by e-mail "
            "(now, by the signed-in doctor; an e-mail address is needed); false withdraws it."
        },
    )
    at = ma.fields.DateTime(dump_only=True, allow_none=True)
    by = ma.fields.String(
        dump_only=True, allow_none=True, metadata={"description": "Who recorded it."}
    )


class PatientSchema(LeanSchema):
    id = Integer(dump_only=True)
    mrn = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    birth_date = ma.fields.Date(allow_none=True)
    sex = ma.fields.Enum(Sex, by_value=True, required=True)
    alopecia_scale = ma.fields.Enum(AlopeciaScale, by_value=True, allow_none=True)
    alopecia_stage = StageField(allow_none=True)
    allergy_status = ma.fields.Enum(AllergyStatus, by_value=True, dump_only=True)
    conditions = ma.fields.List(ma.fields.Nested(ConditionSchema))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=40))
    language = ma.fields.Enum(
        Language,
        by_value=True,
        load_default=None,
        metadata={"description": "What the patient reads reminders in (default en)."},
    )
    contact_consent = ma.fields.Nested(ContactConsentSchema)

    @ma.validates("birth_date")
    def birth_date_not_in_future(self, value, **kwargs):
        if value is not None and value > clinic_today():
            raise ma.ValidationError("Cannot be in the future.")


class PatientUpdateSchema(PatientSchema):
    mrn = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=160))
    sex = ma.fields.Enum(Sex, by_value=True)
    allergy_status = ma.fields.Enum(AllergyStatus, by_value=True)


class PatientQuerySchema(ma.Schema):
    q = ma.fields.String(metadata={"description": "Part of the name or the MRN."})
    sort = ma.fields.Enum(
        patients.PatientOrder,
        by_value=True,
        load_default=patients.PatientOrder.NAME,
        metadata={"description": "name, mrn, born (oldest first), youngest or newest."},
    )


class ReceivedCodeSchema(ma.Schema):
    system = ma.fields.String(validate=ma.validate.Length(max=300))
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    display = ma.fields.String(validate=ma.validate.Length(max=300))


class AllergySchema(ma.Schema):
    id = Integer(dump_only=True)
    substance_id = Integer(
        allow_none=True,
        metadata={"description": "Null for an allergen outside the catalogue (uncoded)."},
    )
    substance = ma.fields.Function(
        lambda allergy: allergy.substance.name if allergy.substance else None,
        deserialize=lambda name: name,
        allow_none=True,
        metadata={"description": 'Name or synonym, any case ("Novocain").'},
    )
    text = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "The allergen as received or typed; sent instead of `substance` "
            "it records an allergen outside the catalogue."
        },
    )
    codes = ma.fields.List(ma.fields.Nested(ReceivedCodeSchema), allow_none=True)
    criticality = ma.fields.Enum(Criticality, by_value=True, load_default=None)
    verification_status = ma.fields.Enum(VerificationStatus, by_value=True, load_default=None)
    clinical_status = ma.fields.Enum(ClinicalStatus, by_value=True, load_default=None)
    reaction = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    severity = ma.fields.Enum(Severity, by_value=True, allow_none=True)
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    reviewed_not_relevant = ma.fields.Function(
        lambda allergy: allergy.reviewed_not_relevant_at is not None, dump_only=True
    )
    reviewed_at = ma.fields.DateTime(
        attribute="reviewed_not_relevant_at", allow_none=True, dump_only=True
    )
    reviewed_by = ma.fields.Function(
        lambda allergy: allergy.reviewed_by.username if allergy.reviewed_by else None,
        dump_only=True,
    )
    unscreened = ma.fields.Boolean(
        dump_only=True,
        metadata={
            "description": "Outside the catalogue and not yet reviewed: every serum is "
            "at least a caution for this patient."
        },
    )


class AllergyUpdateSchema(ma.Schema):
    substance_id = Integer(
        metadata={"description": "Links an uncoded allergy to a catalogue substance."}
    )
    reviewed_not_relevant = JSONBoolean(
        metadata={"description": "An uncoded allergy judged not relevant to serum components."}
    )
    criticality = ma.fields.Enum(Criticality, by_value=True)
    verification_status = ma.fields.Enum(VerificationStatus, by_value=True)
    clinical_status = ma.fields.Enum(ClinicalStatus, by_value=True)
    reaction = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    severity = ma.fields.Enum(Severity, by_value=True, allow_none=True)
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))


class ReasonSchema(LeanSchema):
    kind = ma.fields.String()
    verdict = ma.fields.String()
    component = ma.fields.String(allow_none=True)
    subject = ma.fields.String(allow_none=True)
    path = ma.fields.List(ma.fields.String())
    message = ma.fields.String()
    allergy_id = Integer(allow_none=True)
    condition = ma.fields.String(allow_none=True)


class ScreenSchema(ma.Schema):
    verdict = ma.fields.String()
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))


class SerumRefSchema(LeanSchema):
    id = Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    version = Integer()


class ScreenedSerumSchema(LeanSchema):
    serum = ma.fields.Nested(SerumRefSchema)
    verdict = ma.fields.Function(lambda s: s.screen.verdict.value)
    reasons = ma.fields.Function(lambda s: [r.shared_dict for r in s.screen.reasons])


def _indication_field():
    return ma.fields.Enum(
        Indication,
        by_value=True,
        metadata={
            "description": "Screen as for a course that treats this (the stage rules follow "
            "it: postpartum hair loss needs no stage). Without it, the stage rules of "
            "androgenetic alopecia apply."
        },
    )


class SafetyQuerySchema(ma.Schema):
    serum_id = id_field(required=True)
    indication = _indication_field()


class SerumListQuerySchema(ma.Schema):
    verdict = ma.fields.Enum(Verdict, by_value=True)
    indication = _indication_field()


class FhirBundleSchema(ma.Schema):
    """A FHIR R4 Bundle of AllergyIntolerance; validated in full by fhir.resources."""

    class Meta:
        unknown = ma.INCLUDE

    resourceType = ma.fields.String(required=True, metadata={"enum": ["Bundle"]})

"""Schemas of condition rules (`api.condition_rules`)."""

import marshmallow as ma

from api.schemas.fields import Integer
from api.schemas.lean import LeanSchema
from api.schemas.patients import CONDITION_CODE_DOC
from core.database import NOTE_LENGTH
from formulary.screen import Verdict


class ConditionRuleSchema(LeanSchema):
    id = Integer(dump_only=True)
    code = ma.fields.String(required=True, metadata=CONDITION_CODE_DOC)
    label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    verdict = ma.fields.Enum(Verdict, by_value=True, required=True)
    message = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NOTE_LENGTH))

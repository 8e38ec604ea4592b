"""Schemas of condition rules (`api.condition_rules`)."""

import marshmallow as ma

from clinic.conditions import CONDITION_CODE_HINT
from core.database import NOTE_LENGTH
from formulary.screen import Verdict


class ConditionRuleSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, metadata={"description": CONDITION_CODE_HINT})
    label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    verdict = ma.fields.Enum(Verdict, by_value=True, required=True)
    message = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NOTE_LENGTH))

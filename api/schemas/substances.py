"""Schemas of substances (`api.substances`)."""

import marshmallow as ma

from api.schemas.fields import NOTE, Integer, JSONBoolean, Number
from api.schemas.lean import LeanSchema
from formulary.codes import CODE_SYSTEMS
from formulary.models import Category

NAME_LENGTH = ma.validate.Length(min=1, max=120)


def flatten_errors(messages, prefix: str = "") -> dict:
    """`{"components": {2: {"amount_per_dose": {"unit": [...]}}}}` becomes
    `{"components.2.amount_per_dose.unit": [...]}`: every bad field named by its full path."""
    if not isinstance(messages, dict):
        return {prefix: messages}
    flat = {}
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten_errors(value, path))
    return flat


class FlatErrorsSchema(ma.Schema):
    """Validation errors of nested fields named by their dotted path."""

    def handle_error(self, error, data, *, many, **kwargs):
        raise ma.ValidationError(flatten_errors(error.messages))


class AmountSchema(LeanSchema):
    value = Number(
        required=True,
        places=6,
        validate=ma.validate.Range(min=0, min_inclusive=False, max=10**12, max_inclusive=False),
    )
    unit = ma.fields.String(
        required=True, metadata={"description": "One of mg, ug (µg, mcg), g, mL, IU."}
    )


class CodeSchema(LeanSchema):
    system = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(CODE_SYSTEMS),
        metadata={"description": "http://snomed.info/sct, RxNorm's or UNII's system URL."},
    )
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    source = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=500),
        metadata={"description": "Where the code was confirmed."},
    )


class SynonymSchema(LeanSchema):
    name = ma.fields.String()


class SubstanceRefSchema(LeanSchema):
    id = Integer()


class SubstanceSchema(LeanSchema):
    id = Integer()
    name = ma.fields.String()
    category = ma.fields.Enum(Category, by_value=True)
    is_class = ma.fields.Boolean()
    synonyms = ma.fields.Pluck(SynonymSchema, "name", many=True)
    codes = ma.fields.List(ma.fields.Nested(CodeSchema))
    parents = ma.fields.Pluck(
        SubstanceRefSchema, "id", many=True, metadata={"description": '"is a": ids of classes.'}
    )
    contains = ma.fields.Pluck(
        SubstanceRefSchema,
        "id",
        many=True,
        metadata={"description": "Ids of allergens carried inside."},
    )
    max_concentration_per_ml = ma.fields.Nested(AmountSchema, allow_none=True)
    note = ma.fields.String(allow_none=True, validate=NOTE)


class SubstanceUpdateSchema(FlatErrorsSchema):
    name = ma.fields.String(validate=NAME_LENGTH)
    category = ma.fields.Enum(Category, by_value=True)
    is_class = JSONBoolean()
    synonyms = ma.fields.List(ma.fields.String(validate=NAME_LENGTH))
    codes = ma.fields.List(ma.fields.Nested(CodeSchema))
    parents = ma.fields.List(Integer(strict=True))
    contains = ma.fields.List(Integer(strict=True))
    max_concentration_per_ml = ma.fields.Nested(AmountSchema, allow_none=True)
    note = ma.fields.String(allow_none=True, validate=NOTE)


class SubstanceCreateSchema(SubstanceUpdateSchema):
    name = ma.fields.String(required=True, validate=NAME_LENGTH)
    category = ma.fields.Enum(Category, by_value=True, required=True)
    is_class = JSONBoolean(load_default=False)
    synonyms = ma.fields.List(ma.fields.String(validate=NAME_LENGTH), load_default=list)
    codes = ma.fields.List(ma.fields.Nested(CodeSchema), load_default=list)
    parents = ma.fields.List(Integer(strict=True), load_default=list)
    contains = ma.fields.List(Integer(strict=True), load_default=list)
    max_concentration_per_ml = ma.fields.Nested(AmountSchema, allow_none=True, load_default=None)
    note = ma.fields.String(allow_none=True, load_default=None, validate=NOTE)


class SubstanceQuerySchema(ma.Schema):
    q = ma.fields.String(
        metadata={"description": "Part of a name or synonym, any case (`novo` finds procaine)."}
    )
    category = ma.fields.Enum(Category, by_value=True)

"""Schemas of cross reactivity (`api.cross_reactivity`)."""

import marshmallow as ma

from api.schemas.fields import NOTE
from api.schemas.substances import FlatErrorsSchema, SubstanceRefSchema

GROUP_NAME_LENGTH = ma.validate.Length(min=1, max=120)


class CrossReactivityGroupSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    members = ma.fields.Pluck(
        SubstanceRefSchema, "id", many=True, metadata={"description": "Substance ids."}
    )
    note = ma.fields.String(allow_none=True, validate=NOTE)


class CrossReactivityGroupUpdateSchema(FlatErrorsSchema):
    name = ma.fields.String(validate=GROUP_NAME_LENGTH)
    members = ma.fields.List(ma.fields.Integer(strict=True))
    note = ma.fields.String(allow_none=True, validate=NOTE)


class CrossReactivityGroupCreateSchema(CrossReactivityGroupUpdateSchema):
    name = ma.fields.String(required=True, validate=GROUP_NAME_LENGTH)
    members = ma.fields.List(ma.fields.Integer(strict=True), required=True)
    note = ma.fields.String(allow_none=True, load_default=None, validate=NOTE)

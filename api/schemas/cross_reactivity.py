"""Schemas of cross reactivity (`api.cross_reactivity`)."""

import marshmallow as ma

from api.pagination import id_list
from api.schemas.fields import NOTE, Integer
from api.schemas.lean import LeanSchema
from api.schemas.substances import FlatErrorsSchema, SubstanceRefSchema
from formulary.cross_reactivity import MIN_MEMBERS

GROUP_NAME_LENGTH = ma.validate.Length(min=1, max=120)


class CrossReactivityGroupSchema(LeanSchema):
    id = Integer()
    name = ma.fields.String()
    members = ma.fields.Pluck(
        SubstanceRefSchema, "id", many=True, metadata={"description": "Substance ids."}
    )
    note = ma.fields.String(allow_none=True, validate=NOTE)


class CrossReactivityGroupUpdateSchema(FlatErrorsSchema):
    name = ma.fields.String(validate=GROUP_NAME_LENGTH)
    members = id_list(min_items=MIN_MEMBERS)
    note = ma.fields.String(allow_none=True, validate=NOTE)


class CrossReactivityGroupCreateSchema(CrossReactivityGroupUpdateSchema):
    name = ma.fields.String(required=True, validate=GROUP_NAME_LENGTH)
    members = id_list(min_items=MIN_MEMBERS, required=True)
    note = ma.fields.String(allow_none=True, load_default=None, validate=NOTE)

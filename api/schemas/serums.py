"""Schemas of serums (`api.serums`)."""

import marshmallow as ma

from api.schemas.fields import Integer, Number
from api.schemas.lean import LeanSchema
from api.schemas.substances import AmountSchema, FlatErrorsSchema
from formulary.models import SerumSource, SerumStatus

DOSE_VOLUME = ma.validate.Range(min=0, min_inclusive=False, max=1000)


class ComponentSchema(LeanSchema):
    substance_id = Integer()
    substance = ma.fields.Function(lambda component: component.substance.name)
    amount_per_dose = ma.fields.Nested(AmountSchema)
    concentration_per_ml = ma.fields.Nested(
        AmountSchema, metadata={"description": "amount_per_dose / dose_volume_ml, per mL."}
    )


class SerumSchema(LeanSchema):
    id = Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    version = Integer()
    status = ma.fields.Enum(SerumStatus, by_value=True)
    source = ma.fields.Enum(SerumSource, by_value=True)
    manufacturer = ma.fields.String(allow_none=True)
    dose_volume_ml = Number()
    author = ma.fields.Function(lambda serum: serum.author.username if serum.author else None)
    editors = ma.fields.Function(
        lambda serum: [user.username for user in serum.editors],
        metadata={"description": "Who changed the draft after its author; none may approve it."},
    )
    approved_by = ma.fields.Function(
        lambda serum: serum.approved_by.username if serum.approved_by else None
    )
    approved_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    components = ma.fields.List(ma.fields.Nested(ComponentSchema))


class ComponentCreateSchema(ma.Schema):
    substance_id = Integer(required=True, strict=True)
    amount_per_dose = ma.fields.Nested(AmountSchema, required=True)


class SerumUpdateSchema(FlatErrorsSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=160))
    source = ma.fields.Enum(SerumSource, by_value=True)
    manufacturer = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=160))
    dose_volume_ml = Number(places=3, validate=DOSE_VOLUME)
    components = ma.fields.List(ma.fields.Nested(ComponentCreateSchema))


class SerumCreateSchema(SerumUpdateSchema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    source = ma.fields.Enum(SerumSource, by_value=True, required=True)
    manufacturer = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=160)
    )
    dose_volume_ml = Number(places=3, required=True, validate=DOSE_VOLUME)
    components = ma.fields.List(ma.fields.Nested(ComponentCreateSchema), load_default=list)


class SerumQuerySchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Every version of this serum."})
    status = ma.fields.Enum(SerumStatus, by_value=True)
